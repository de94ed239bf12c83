"""ESRGAN's residual dense block, with gradients written for the CPU's convolution library.

The block (Wang et al. 2018) runs five 3x3 convolutions, each on the concatenation of the block's input
and every earlier convolution's output. Left to autodiff on CPU (YNNPACK), each of the five weight
gradients copies its whole concatenation into a batch-innermost layout (640 channels per block for
ESRGAN's 64 + 4 x 32), and each forward convolution copies its concatenation first. The fused form
here computes the same block without either copy:

- forward: each feature map (the input, then each new output) is convolved once, with the rows of every
  later convolution's kernel that read it side by side, and the later convolutions' pre-activations are
  the sums of those partial results;
- backward: each feature map is moved to the batch-innermost layout once (192 channels per block), and
  each weight gradient is taken piece by piece from those copies (the form XLA itself uses for a weight
  gradient, with the padding inside the convolution); input gradients are convolutions of each output's
  gradient with its flipped kernel, split among the pieces it read.

It runs where `jaxgan.nn.conv` lowers to YNNPACK (``space_to_depth``, float32); every other lowering and
dtype takes the plain concatenation form through `conv2d`. The two agree to float32 rounding (the sums
are taken in a different order; tests/test_nn.py). Measured: benchmarks/RESULTS.md, Speed.
"""
from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.nn.channels import channel_sum
from jaxgan.nn.conv import Impl, conv2d, native_conv, resolved_impl

#: slope of the block's LeakyReLU, and the scale of its residual
SLOPE = 0.2
RESIDUAL_SCALE = 0.2

Weights = Sequence[tuple[jax.Array, jax.Array]]


def residual_dense_block(x: jax.Array, weights: Weights, impl: Impl = "auto") -> jax.Array:
    """``x + 0.2 conv_5([x, f_1 .. f_4])`` with ``f_k = leaky_relu(conv_k([x, f_1 .. f_(k-1)]), 0.2)``:
    NHWC ``x``, ``weights`` five (HWIO 3x3 kernel, bias) pairs in ``x``'s dtype, 'same' zero padding."""
    if len(weights) != 5 or any(kernel.shape[:2] != (3, 3) for kernel, _ in weights):
        raise ValueError("a residual dense block takes five 3x3 convolutions")
    if x.dtype == jnp.float32 and resolved_impl(impl) == "space_to_depth":
        return _fused(tuple((kernel, bias) for kernel, bias in weights), x)
    pieces = [x]
    for kernel, bias in weights[:-1]:
        pieces.append(_leaky_relu(conv2d(jnp.concatenate(pieces, -1), kernel, 1, 1, impl) + bias))
    kernel, bias = weights[-1]
    return x + RESIDUAL_SCALE * (conv2d(jnp.concatenate(pieces, -1), kernel, 1, 1, impl) + bias)


def _leaky_relu(x: jax.Array) -> jax.Array:
    return jnp.where(x >= 0, x, SLOPE * x)


def _same(x: jax.Array) -> jax.Array:
    """``x`` zero-padded by one pixel on each side, for a VALID 3x3 convolution."""
    return jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))


def _forward(weights: Weights, x: jax.Array) -> tuple[jax.Array, list[jax.Array]]:
    """The block's output and its feature maps ``[x, f_1 .. f_4]`` (see the module docstring)."""
    outs = [kernel.shape[-1] for kernel, _ in weights]
    pre: list[jax.Array | None] = [None] * len(weights)
    pieces, start = [x], 0
    for i in range(len(weights)):
        width = pieces[i].shape[-1]
        kernel = jnp.concatenate([k[:, :, start:start + width] for k, _ in weights[i:]], -1)
        start += width
        partial = native_conv(_same(pieces[i]), kernel, 1, 0)
        for k, part in zip(range(i, len(weights)), jnp.split(partial, np.cumsum(outs[i:-1]), -1)):
            pre[k] = part if pre[k] is None else pre[k] + part
        if i < len(weights) - 1:
            pieces.append(_leaky_relu(pre[i] + weights[i][1]))
    return x + RESIDUAL_SCALE * (pre[-1] + weights[-1][1]), pieces


def _weight_gradient(piece_chwn: jax.Array, dy: jax.Array) -> jax.Array:
    """The HWIO 3x3 kernel gradient of a 'same' convolution, from its input in ``[C, H, W, N]`` layout and
    its output's gradient ``dy [N, H, W, K]``: the batch and the pixels are contracted."""
    dk = jax.lax.conv_general_dilated(piece_chwn, jnp.transpose(dy, (1, 2, 0, 3)), (1, 1), ((1, 1), (1, 1)),
                                      dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return jnp.transpose(dk, (1, 2, 0, 3))


@jax.custom_vjp
def _fused(weights: Weights, x: jax.Array) -> jax.Array:
    return _forward(weights, x)[0]


def _fused_fwd(weights: Weights, x: jax.Array) -> tuple[jax.Array, tuple[Weights, list[jax.Array]]]:
    out, pieces = _forward(weights, x)
    return out, (weights, pieces)


def _fused_bwd(residuals: tuple[Weights, list[jax.Array]], g: jax.Array
               ) -> tuple[tuple[tuple[jax.Array, jax.Array], ...], jax.Array]:
    weights, pieces = residuals
    widths = [p.shape[-1] for p in pieces]
    batch_innermost = [jnp.transpose(p, (3, 1, 2, 0)) for p in pieces]
    dpieces: list[jax.Array | None] = [None] * len(pieces)
    grads = []
    dy = RESIDUAL_SCALE * g
    for k in range(len(weights) - 1, -1, -1):      # conv k reads pieces 0..k; piece k is then complete
        kernel, _ = weights[k]
        dkernel = jnp.concatenate([_weight_gradient(batch_innermost[i], dy) for i in range(k + 1)], 2)
        grads.append((dkernel, channel_sum(dy)))
        dx = native_conv(_same(dy), jnp.transpose(jnp.flip(kernel, (0, 1)), (0, 1, 3, 2)), 1, 0)
        for i, part in enumerate(jnp.split(dx, np.cumsum(widths[:k]), -1)):
            dpieces[i] = part if dpieces[i] is None else dpieces[i] + part
        if k > 0:
            dy = jnp.where(pieces[k] >= 0, dpieces[k], SLOPE * dpieces[k])
    return tuple(grads[::-1]), g + dpieces[0]


_fused.defvjp(_fused_fwd, _fused_bwd)
