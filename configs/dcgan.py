"""DCGAN (Radford et al. 2015) on the embedded digits at 32x32 (the README's main job: ~9 min on 2 cores).

Samples, evaluation and infer.py use a moving average of G's weights (``ema_decay``; 0 for the raw ones).
One measured departure from the paper: G maps its N(0, I) noise onto a mixture of 100 Gaussians of std 0.3
around fixed centres (``model.latent_components``, `jaxgan.models.latent_prior`), so it need not draw
ambiguous digits between classes (README: Quality of the main job); the paper's prior:
--config.model.latent_components=0.

For 64x64 or RGB data: --config.image_size=64 --config.data.channels=3 --config.data.source=tfds ...
"""
from jaxgan.config import adam, base_config


def get_config():
    c = base_config()
    c.image_size = 32
    c.batch_size = 64
    c.num_steps = 5000
    c.ema_decay = 0.999
    c.model.arch = "dcgan"
    c.model.latent_dim = 100
    c.model.latent_components = 100  # G's noise as a mixture of 100 Gaussians (not in the paper; 0 = N(0, I))
    c.model.latent_component_std = 0.3
    c.model.g_features = 32
    c.model.d_features = 32
    c.model.d_norm = "batch"
    c.gan = dict(loss="non_saturating", n_critic=1, gp_weight=0.0, r1_gamma=0.0, augment="", info_categories=0, info_weight=1.0)
    c.optim.g = adam(2e-4, 0.5)
    c.optim.d = adam(2e-4, 0.5)
    c.sample_every = 500
    c.checkpoint_every = 500
    return c
