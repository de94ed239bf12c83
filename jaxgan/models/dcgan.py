"""DCGAN generator and discriminator (Radford et al. 2015), for any power-of-two size >= 16.

The rules: strided convolutions instead of pooling, batch norm in G and D except G's output and D's
input, ReLU + tanh in G, LeakyReLU(0.2) in D, no fully connected hidden layers (G's first layer is the
paper's "project and reshape", i.e. a transposed conv of the 1x1 noise). Weights ~ N(0, 0.02).
WGAN uses the same networks; WGAN-GP's critic sets ``norm="none"`` (or ``"layer"``).
"""
from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.errors import ConfigError
from jaxgan.models.latent_prior import mixture_prior
from jaxgan.nn import Conv, ConvTranspose, make_norm

DCGAN_INIT = nn.initializers.normal(0.02)


def check_image_size(image_size: int) -> int:
    """The number of x2 stages for ``image_size``; `ConfigError` unless it is a power of two >= 16."""
    stages = int(math.log2(image_size)) - 2
    if image_size < 16 or 2 ** (stages + 2) != image_size:
        raise ConfigError(f"DCGAN needs a power-of-two image_size >= 16, got {image_size}")
    return stages


def categorical_code(z: jax.Array, categories: int) -> jax.Array:
    """InfoGAN's categorical code carried by standard normal noise: the index of the largest of ``z``'s
    first ``categories`` entries, uniform over the categories. Drawing the code this way keeps every
    input of a noise recipe a plain ``N(0, I)`` vector (infer.py, sample grids)."""
    return jnp.argmax(z[:, :categories], axis=-1)


class DCGANGenerator(nn.Module):
    """``z [B, latent] -> image [B, size, size, channels]`` in [-1, 1]. With ``categories`` (InfoGAN), z's
    first ``categories`` entries become the one-hot `categorical_code`; with ``latent_components``, z is
    first mapped onto `jaxgan.models.latent_prior`'s mixture (std ``latent_component_std``)."""

    image_size: int
    channels: int
    features: int = 64
    categories: int = 0
    latent_components: int = 0
    latent_component_std: float = 0.5
    dtype: Any = jnp.float32
    conv_impl: str = "auto"

    @nn.compact
    def __call__(self, z: jax.Array, train: bool = True) -> jax.Array:
        stages = check_image_size(self.image_size)
        conv = dict(kernel_init=DCGAN_INIT, dtype=self.dtype, impl=self.conv_impl)
        width = self.features * 2 ** (stages - 1)
        z = mixture_prior(z, self.latent_components, self.latent_component_std)
        if self.categories:
            code = jax.nn.one_hot(categorical_code(z, self.categories), self.categories, dtype=z.dtype)
            z = jnp.concatenate([code, z[:, self.categories:]], axis=-1)
        h = nn.Dense(4 * 4 * width, use_bias=False, kernel_init=DCGAN_INIT, dtype=self.dtype)(z)
        h = h.reshape(z.shape[0], 4, 4, width)
        h = nn.relu(make_norm("batch", train)(h))
        for _ in range(stages - 1):
            width //= 2
            h = ConvTranspose(width, 4, 2, 1, use_bias=False, **conv)(h)
            h = nn.relu(make_norm("batch", train)(h))
        h = ConvTranspose(self.channels, 4, 2, 1, use_bias=False, **conv)(h)
        return jnp.tanh(h.astype(jnp.float32))


class DCGANDiscriminator(nn.Module):
    """``image [B, size, size, C] -> logit [B]`` (no sigmoid: losses take logits). With ``categories``
    (InfoGAN), ``(logit [B], code logits [B, categories])``: a second 4x4 head on the same body (the
    paper's Q network shares all of D but its last layers)."""

    features: int = 64
    norm: str = "batch"
    categories: int = 0
    dtype: Any = jnp.float32
    conv_impl: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array | tuple[jax.Array, jax.Array]:
        h = dcgan_body(x, self.features, self.norm, train, self.dtype, self.conv_impl)
        head = dict(kernel_init=DCGAN_INIT, dtype=self.dtype, impl=self.conv_impl)
        logit = Conv(1, 4, 1, 0, use_bias=False, **head)(h).reshape(x.shape[0]).astype(jnp.float32)
        if not self.categories:
            return logit
        code = Conv(self.categories, 4, 1, 0, **head)(h).reshape(x.shape[0], self.categories)
        return logit, code.astype(jnp.float32)


def dcgan_body(x: jax.Array, features: int, norm: str, train: bool, dtype: Any, conv_impl: str) -> jax.Array:
    """DCGAN's discriminator body, ``[B, size, size, C] -> [B, 4, 4, features * size / 8]``: stride-2 4x4
    convolutions, LeakyReLU(0.2), ``norm`` after all but the first. Call it inside a compact module."""
    stages = check_image_size(x.shape[1])
    conv = dict(kernel_init=DCGAN_INIT, dtype=dtype, impl=conv_impl)
    width = features
    h = nn.leaky_relu(Conv(width, 4, 2, 1, use_bias=False, **conv)(x), 0.2)
    for _ in range(stages - 1):
        width *= 2
        h = Conv(width, 4, 2, 1, use_bias=False, **conv)(h)
        h = nn.leaky_relu(make_norm(norm, train)(h), 0.2)
    return h
