"""Small shared layers and array helpers used by every architecture."""
from __future__ import annotations

import jax
import jax.numpy as jnp


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
