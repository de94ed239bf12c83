"""Fully connected generator and discriminator (Goodfellow et al. 2014)."""
from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.latent_prior import mixture_prior


class MLPGenerator(nn.Module):
    """``z [B, latent] -> image [B, size, size, channels]`` in [-1, 1]; with ``latent_components``, z is first
    mapped onto `jaxgan.models.latent_prior`'s mixture (std ``latent_component_std``)."""

    image_size: int
    channels: int
    hidden: Sequence[int] = (256, 512, 1024)
    latent_components: int = 0
    latent_component_std: float = 0.5
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, z: jax.Array, train: bool = True) -> jax.Array:
        h = mixture_prior(z, self.latent_components, self.latent_component_std).astype(self.dtype)
        for width in self.hidden:
            h = nn.leaky_relu(nn.Dense(width, dtype=self.dtype)(h), 0.2)
        out = nn.Dense(self.image_size * self.image_size * self.channels, dtype=self.dtype)(h)
        return jnp.tanh(out).reshape(z.shape[0], self.image_size, self.image_size, self.channels)


class MLPDiscriminator(nn.Module):
    """``image -> logit [B]``."""

    hidden: Sequence[int] = (512, 256)
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        h = x.reshape(x.shape[0], -1).astype(self.dtype)
        for width in self.hidden:
            h = nn.leaky_relu(nn.Dense(width, dtype=self.dtype)(h), 0.2)
        return nn.Dense(1, dtype=self.dtype)(h)[:, 0].astype(jnp.float32)
