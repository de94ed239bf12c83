"""Small shared layers and array helpers used by every architecture."""
from __future__ import annotations

import jax
import jax.numpy as jnp


def pixel_shuffle(x: jax.Array, factor: int) -> jax.Array:
    """``[N, H, W, f*f*C] -> [N, f*H, f*W, C]``; channel ``(a*f + b)*C + c`` goes to pixel offset ``(a, b)``."""
    n, h, w, c = x.shape
    if c % (factor * factor):
        raise ValueError(f"pixel_shuffle: {c} channels are not divisible by {factor}**2")
    c_out = c // (factor * factor)
    x = x.reshape(n, h, w, factor, factor, c_out)
    x = jnp.transpose(x, (0, 1, 3, 2, 4, 5))
    return x.reshape(n, h * factor, w * factor, c_out)


def reflect_pad(x: jax.Array, pad: int) -> jax.Array:
    """Reflection padding of the two spatial axes of an NHWC array."""
    return jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
