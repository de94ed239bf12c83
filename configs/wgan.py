"""WGAN with weight clipping (Arjovsky et al. 2017): DCGAN networks, a critic without sigmoid,
RMSProp 5e-5, n_critic = 5 critic updates per generator update, critic weights clipped to [-0.01, 0.01]."""
from jaxgan.config import check_variant, config_beside, rmsprop


def get_config(variant: str = ""):
    c = config_beside(__file__, "dcgan", check_variant(variant, __file__, "paper"))   # :paper, DCGAN's paper sizes
    c.num_steps = 2000
    c.ema_decay = 0.0
    c.model.latent_components = 0
    c.model.latent_component_std = 0.5
    c.gan.update(loss="wasserstein", n_critic=5)
    c.optim.g = rmsprop(5e-5)
    c.optim.d = rmsprop(5e-5, weight_clip=0.01)
    return c
