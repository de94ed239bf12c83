"""GAN (Goodfellow et al. 2014): MLP generator and discriminator on the embedded digits, 16x16; the base
of the DCGAN, WGAN and WGAN-GP configs."""
from jaxgan.config import adam, base_config, check_variant


def get_config(variant: str = ""):
    check_variant(variant, __file__)
    c = base_config("noise_to_image", image_size=16, num_steps=3000)
    c.model.arch = "mlp"
    c.model.latent_dim = 64
    c.model.latent_components = 0  # > 0: a Gaussian-mixture latent prior (jaxgan/models/latent_prior.py)
    c.model.latent_component_std = 0.5
    c.model.g_hidden = (256, 512, 1024)
    c.model.d_hidden = (512, 256)
    c.gan = dict(loss="non_saturating", n_critic=1, gp_weight=0.0, r1_gamma=0.0, augment="",
                 info_categories=0, info_weight=1.0)   # loss: minimax | non_saturating
    c.optim.g = adam(2e-4, 0.5)
    c.optim.d = adam(2e-4, 0.5)
    c.eval.figures = "classifier"  # the digits' labels: metrics.classifier_eval ('' for unlabelled data)
    return c
