"""WGAN-GP (Gulrajani et al. 2017): gradient penalty lambda = 10, Adam 1e-4 (0, 0.9), n_critic = 5,
no batch norm in the critic."""
from jaxgan.config import adam, check_variant, config_beside


def get_config(variant: str = ""):
    c = config_beside(__file__, "wgan", check_variant(variant, __file__, "paper"))   # :paper, DCGAN's paper sizes
    c.model.d_norm = "none"
    c.gan.gp_weight = 10.0
    c.optim.g = adam(1e-4, 0.0, 0.9)
    c.optim.d = adam(1e-4, 0.0, 0.9)
    return c
