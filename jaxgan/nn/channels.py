"""Per-channel sums and broadcasts (over every axis but the last, NHWC), in forms XLA's CPU backend runs fast.

XLA's CPU backend reduces ``[..., C]`` over its leading axes (batch-norm statistics and their
gradients) 1.4-4x slower than the same sum taken in two stages, first over groups of `GROUP` rows folded
into one row (``[P/16, 16*C]``), then over the 16 partial sums (benchmarks/RESULTS.md: Speed).
`channel_sum` takes the two stages; `channel_broadcast` is a broadcast whose gradient is a
`channel_sum`, so that the reductions autodiff writes for `jaxgan.nn.BatchNorm` take them too.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

#: Rows folded into one in the first stage of `channel_sum`.
GROUP = 16


def channel_sum(x: jax.Array) -> jax.Array:
    """``x [..., C]`` summed over every axis but the last: ``[C]``."""
    c = x.shape[-1]
    rows = x.size // c
    if rows % GROUP or rows == GROUP:
        return jnp.sum(x.reshape(rows, c), axis=0)
    return jnp.sum(jnp.sum(x.reshape(rows // GROUP, GROUP * c), axis=0).reshape(GROUP, c), axis=0)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def channel_broadcast(v: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """A per-channel vector ``v [C]`` broadcast to ``shape [..., C]``; its gradient is a `channel_sum`."""
    return jnp.broadcast_to(v, shape)


def _channel_broadcast_fwd(v: jax.Array, shape: tuple[int, ...]) -> tuple[jax.Array, None]:
    return channel_broadcast(v, shape), None


def _channel_broadcast_bwd(shape: tuple[int, ...], _: None, g: jax.Array) -> tuple[jax.Array]:
    return (channel_sum(g),)


channel_broadcast.defvjp(_channel_broadcast_fwd, _channel_broadcast_bwd)
