"""DCGAN (Radford et al. 2015) on the embedded digits at 32x32 (the README's first command: ~9 min on 2 cores).

Samples, evaluation and infer.py use a moving average of G's weights (``ema_decay``; 0 for the raw ones).
One measured departure from the paper: G maps its N(0, I) noise onto a mixture of 100 Gaussians of std 0.3
around fixed centres (``model.latent_components``, `jaxgan.models.latent_prior`), so it need not draw
ambiguous digits between classes (benchmarks/RESULTS.md: Quality of the default runs); the paper's prior:
--config.model.latent_components=0.

The paper's sizes (64x64 RGB, 64 features; `benchmarks/bench.py`'s row): --config configs/dcgan.py:paper,
with your data, e.g. --config.data.source=tfds --config.data.name=celeb_a --config.eval.figures=''.
"""
from jaxgan.config import check_variant, config_beside


def get_config(variant: str = ""):
    paper = check_variant(variant, __file__, "paper") == "paper"
    c = config_beside(__file__, "gan")
    c.image_size = 32
    c.num_steps = 5000
    c.ema_decay = 0.999
    c.model.arch = "dcgan"
    del c.model.g_hidden, c.model.d_hidden
    c.model.latent_dim = 100
    c.model.latent_components = 100  # G's noise as a mixture of 100 Gaussians (not in the paper; 0 = N(0, I))
    c.model.latent_component_std = 0.3
    c.model.g_features = 32
    c.model.d_features = 32
    c.model.d_norm = "batch"
    if paper:                      # and the paper's N(0, I) prior and raw weights
        c.image_size = 64
        c.data.channels = 3
        c.model.g_features = c.model.d_features = 64
        c.model.latent_components, c.ema_decay = 0, 0.0
    return c
