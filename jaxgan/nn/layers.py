"""Small shared layers and array helpers used by every architecture."""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.nn.conv import Conv


def pixel_shuffle(x: jax.Array, factor: int) -> jax.Array:
    """``[N, H, W, C*f*f] -> [N, f*H, f*W, C]`` in ``torch.nn.functional.pixel_shuffle``'s order: input
    channel ``c*f*f + a*f + b`` goes to output channel ``c`` at pixel offset ``(a, b)``, so weights move
    between the two frameworks unchanged (up to the NCHW/NHWC transpose)."""
    n, h, w, c = x.shape
    if c % (factor * factor):
        raise ValueError(f"pixel_shuffle: {c} channels are not divisible by {factor}**2")
    c_out = c // (factor * factor)
    x = x.reshape(n, h, w, c_out, factor, factor)
    x = jnp.transpose(x, (0, 1, 4, 2, 5, 3))
    return x.reshape(n, h * factor, w * factor, c_out)


def pixel_unshuffle(x: jax.Array, factor: int) -> jax.Array:
    """``[N, f*H, f*W, C] -> [N, H, W, C*f*f]``, the inverse of `pixel_shuffle` (BasicSR's
    ``pixel_unshuffle`` order: output channel ``c*f*f + a*f + b`` is input channel ``c`` at offset ``(a, b)``)."""
    n, h, w, c = x.shape
    if h % factor or w % factor:
        raise ValueError(f"pixel_unshuffle: {h}x{w} is not divisible by {factor}")
    x = x.reshape(n, h // factor, factor, w // factor, factor, c)
    x = jnp.transpose(x, (0, 1, 3, 5, 2, 4))
    return x.reshape(n, h // factor, w // factor, c * factor * factor)


def icnr(factor: int, base: Any = Conv.kernel_init) -> Any:
    """A kernel initialiser for a convolution followed by ``pixel_shuffle(., factor)`` (ICNR, Aitken et
    al. 2017): each output channel's ``factor**2`` sub-pixel kernels start equal, so the layer starts as
    a convolution followed by nearest-neighbour upsampling, with no checkerboard to unlearn."""

    def init(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
        *window, cin, cout = shape
        small = base(key, (*window, cin, cout // (factor * factor)), dtype)
        return jnp.repeat(small, factor * factor, axis=-1)       # channel c*f*f + j is c's kernel, every j

    return init


class SubPixelConv(nn.Module):
    """Upsampling by ``factor``: a 3x3 conv to ``factor**2 * features`` channels, then `pixel_shuffle`,
    ICNR-initialised (the SRResNet upsampling stage)."""

    features: int
    factor: int = 2
    dtype: Any = None
    impl: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        f2 = self.factor * self.factor
        y = Conv(f2 * self.features, 3, 1, 1, dtype=self.dtype, impl=self.impl, kernel_init=icnr(self.factor))(x)
        return pixel_shuffle(y, self.factor)
