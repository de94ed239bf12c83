"""Normalisation layers chosen by name, so one block serves batch, instance and layer norm.

Statistics are computed in two passes (mean, then the mean squared deviation) in float32: the one-pass
``E[x^2] - E[x]^2`` loses every digit when a channel's mean is large against its spread.
"""
from __future__ import annotations

from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.errors import ConfigError
from jaxgan.nn.channels import channel_broadcast, channel_sum

#: ``instance``: no learned scale/shift (the pix2pix / CycleGAN code's ``InstanceNorm2d(affine=False)``);
#: ``instance_affine``: learned per-channel scale and shift (StarGAN's ``affine=True``).
NORMS = ("batch", "instance", "instance_affine", "layer", "none")


class BatchNorm(nn.Module):
    """PyTorch's ``BatchNorm2d``: normalises by the batch's biased variance in training and keeps running
    averages (momentum 0.1) of the mean and of the *unbiased* variance (``n / (n - 1)`` times the biased
    one), which evaluation mode uses. Flax's own BatchNorm averages the biased variance, which at the
    U-Net bottleneck (4 values per channel) leaves the running variance 25% low."""

    use_running_average: bool = False
    momentum: float = 0.1
    epsilon: float = 1e-5
    scale_init: Callable[..., Any] = nn.initializers.ones

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        features = x.shape[-1]
        ra_mean = self.variable("batch_stats", "mean", lambda: jnp.zeros((features,), jnp.float32))
        ra_var = self.variable("batch_stats", "var", lambda: jnp.ones((features,), jnp.float32))
        scale = self.param("scale", self.scale_init, (features,), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (features,), jnp.float32)
        if self.use_running_average:
            mean, var = ra_mean.value, ra_var.value
        else:
            mean, var = _channel_moments(x)
            if not self.is_initializing():
                n = x.size // features
                m = self.momentum
                ra_mean.value = (1 - m) * ra_mean.value + m * mean
                ra_var.value = (1 - m) * ra_var.value + m * var * (n / max(n - 1, 1))
        shape = x.shape
        y = (x.astype(jnp.float32) - channel_broadcast(mean, shape)) \
            * channel_broadcast(jax.lax.rsqrt(var + self.epsilon) * scale, shape) + channel_broadcast(bias, shape)
        return y.astype(x.dtype)


class InstanceNorm(nn.Module):
    """Per-example, per-channel normalisation over the spatial axes (biased variance, as PyTorch's
    ``InstanceNorm2d``), with a learned scale and shift only when ``affine``."""

    affine: bool = False
    epsilon: float = 1e-5

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        mean, var = _spatial_moments(x)
        y = (x.astype(jnp.float32) - mean) * jax.lax.rsqrt(var + self.epsilon)
        if self.affine:
            y = y * self.param("scale", nn.initializers.ones, (x.shape[-1],)) \
                + self.param("bias", nn.initializers.zeros, (x.shape[-1],))
        return y.astype(x.dtype)


def _spatial_moments(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Per-example, per-channel mean and biased variance over the spatial axes (kept, size 1), in float32,
    in two passes."""
    x = x.astype(jnp.float32)
    axes = tuple(range(1, x.ndim - 1))
    mean = jnp.mean(x, axes, keepdims=True)
    return mean, jnp.mean(jnp.square(x - mean), axes, keepdims=True)


def _channel_moments(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Per-channel mean and biased variance over every axis but the last, in float32, in two passes."""
    x = x.astype(jnp.float32)
    rows = x.size // x.shape[-1]
    mean = channel_sum(x) / rows
    return mean, channel_sum(jnp.square(x - channel_broadcast(mean, x.shape))) / rows


def make_norm(kind: str, train: bool, name: str | None = None) -> Callable[[jax.Array], jax.Array]:
    """A normalisation layer by name (PyTorch defaults: eps 1e-5, running-average momentum 0.1)."""
    if kind == "batch":
        return BatchNorm(use_running_average=not train, scale_init=_normal_around_one, name=name)
    if kind in ("instance", "instance_affine"):
        return InstanceNorm(affine=kind == "instance_affine", name=name)
    if kind == "layer":
        return nn.LayerNorm(epsilon=1e-5, use_fast_variance=False, name=name)
    if kind == "none":
        return lambda x: x
    raise ConfigError(f"unknown norm {kind!r}; choose one of {', '.join(NORMS)}")


def _normal_around_one(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
    """BN scale ~ N(1, 0.02), the DCGAN initialisation."""
    return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)
