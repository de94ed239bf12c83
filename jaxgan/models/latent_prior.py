"""A Gaussian-mixture latent prior carried by standard normal noise (not in the GAN or DCGAN papers).

A generator fed plain ``N(0, I)`` noise is a continuous map from one connected blob: it cannot draw ten
separate digit classes without spending some of its noise on the ambiguous shapes between them. With
``components`` > 0 the generator first maps its noise ``z`` onto a mixture of that many Gaussians of
standard deviation ``std`` around fixed, well-separated centres (GM-GAN, Ben-Yosef & Weinshall 2018,
with fixed centres): regions between components are never drawn, so G can place each component within
one mode. The component is the quantile of ``z``'s first entry (uniform over the components), so every
input stays a plain ``N(0, I)`` vector (infer.py, sample grids, exported generators need nothing else).
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.errors import ConfigError


@functools.lru_cache(maxsize=None)
def mixture_centres(components: int, latent_dim: int, std: float) -> np.ndarray:
    """The fixed centres ``[components, latent_dim]``: ``N(0, 1 - std**2)`` draws, so the mixture has the
    unit variance of the noise it replaces, from NumPy's legacy generator (its stream is frozen: the
    centres, and so a trained generator's meaning, never change between versions)."""
    centres = np.random.RandomState(0).standard_normal((components, latent_dim))
    return (centres * math.sqrt(1.0 - std ** 2)).astype(np.float32)


def mixture_prior(z: jax.Array, components: int, std: float) -> jax.Array:
    """``z [B, latent]`` ~ N(0, I) -> ``std * z + centres[k]``, ``k`` the component of ``z``'s first entry's
    quantile; ``components == 0`` returns ``z`` (the plain prior)."""
    if not components:
        return z
    check(components, std)
    centres = jnp.asarray(mixture_centres(components, z.shape[-1], std), z.dtype)
    quantile = jax.scipy.special.ndtr(z[:, 0].astype(jnp.float32))
    k = jnp.clip(jnp.floor(quantile * components), 0, components - 1).astype(jnp.int32)
    return std * z + centres[k]


def check(components: int, std: float) -> None:
    """`ConfigError` unless ``components >= 0`` and ``0 < std <= 1``."""
    if components < 0 or not 0.0 < std <= 1.0:
        raise ConfigError(f"model.latent_components must be >= 0 and model.latent_component_std in (0, 1]; "
                          f"got {components} and {std}")
