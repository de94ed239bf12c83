"""WGAN-GP (Gulrajani et al. 2017): gradient penalty lambda = 10, Adam 1e-4 (0, 0.9), n_critic = 5,
no batch norm in the critic."""
from jaxgan.config import adam, base_config


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
    c.model.d_norm = "none"
    c.gan = dict(loss="wasserstein", n_critic=5, gp_weight=10.0, r1_gamma=0.0, augment="", info_categories=0, info_weight=1.0)
    c.optim.g = adam(1e-4, 0.0, 0.9)
    c.optim.d = adam(1e-4, 0.0, 0.9)
    return c
