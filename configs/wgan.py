"""WGAN with weight clipping (Arjovsky et al. 2017): DCGAN networks, a critic without sigmoid,
RMSProp 5e-5, n_critic = 5 critic updates per generator update, critic weights clipped to [-0.01, 0.01]."""
from jaxgan.config import base_config, rmsprop


def get_config():
    c = base_config()
    c.image_size = 32
    c.num_steps = 2000
    c.model.arch = "dcgan"
    c.model.latent_dim = 100
    c.model.latent_components = 0  # > 0: a Gaussian-mixture latent prior (jaxgan/models/latent_prior.py)
    c.model.latent_component_std = 0.5
    c.model.g_features = 32
    c.model.d_features = 32
    c.model.d_norm = "batch"
    c.gan = dict(loss="wasserstein", n_critic=5, gp_weight=0.0, r1_gamma=0.0, augment="", info_categories=0, info_weight=1.0)
    c.optim.g = rmsprop(5e-5)
    c.optim.d = rmsprop(5e-5, weight_clip=0.01)
    return c
