"""Transposed convolution computed as one ordinary convolution plus a pixel shuffle.

`lax.conv_transpose` (what `flax.linen.ConvTranspose` lowers to) is a convolution with a dilated input.
Its weight gradient is a second dilated convolution that XLA runs far slower than an ordinary one
(~20x PyTorch's whole forward+backward of the layer on CPU). For the transposed convolutions GANs use,
the ones that upsample exactly by their stride (``out = stride * in``), every output phase ``(a, b)``
(position modulo the stride) is an ordinary convolution of the input with a ``ceil(k/s)``-square
sub-kernel. We stack the ``stride**2`` sub-kernels along the output channels, run one small convolution
(`conv2d`, so the CPU matmul lowering applies) and interleave the phases ("sub-pixel convolution",
Shi et al. 2016). Values, parameters and initialisation match PyTorch's ``ConvTranspose2d`` with the same
``kernel_size / stride / padding / output_padding``; no gradient is a dilated convolution.
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.nn.conv import conv2d


def _phase_plan(kernel_size: int, stride: int, padding: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Output ``o = s*i + a`` receives ``x[i + d] * w[k]`` with ``k = a + padding - s*d``.

    Returns ``taps[a, t]`` (kernel index used by phase ``a`` at window tap ``t``, or -1 for none),
    ``offset[a]`` (where phase ``a``'s window starts relative to the earliest one) and that earliest
    window start ``base`` (a ``d``).
    """
    window = -(-kernel_size // stride)
    starts = []
    for a in range(stride):
        ds = [d for d in range(-kernel_size, kernel_size + 1) if 0 <= a + padding - stride * d < kernel_size]
        starts.append(min(ds))
    base = min(starts)
    taps = np.full((stride, window), -1, dtype=np.int32)
    for a in range(stride):
        for t in range(window):
            k = a + padding - stride * (starts[a] + t)
            if 0 <= k < kernel_size:
                taps[a, t] = k
    return taps, np.asarray(starts) - base, base


def phase_kernel(kernel: jax.Array, taps: np.ndarray) -> jax.Array:
    """``[k, k, cin, cout]`` -> ``[t, t, cin, s*s*cout]``; output channel ``(a*s + b)*cout + c``."""
    k, _, cin, _ = kernel.shape
    s, t = taps.shape
    padded = jnp.pad(kernel, ((0, 1), (0, 1), (0, 0), (0, 0)))       # row/col k is all zeros
    rows = np.where(taps < 0, k, taps)
    sub = padded[rows[:, None, :, None], rows[None, :, None, :]]     # [a, b, ty, tx, cin, cout]
    return jnp.transpose(sub, (2, 3, 4, 0, 1, 5)).reshape(t, t, cin, -1)


class ConvTranspose(nn.Module):
    """PyTorch ``ConvTranspose2d`` (NHWC) for the exact-upsampling case ``out = stride * in``.

    ``kernel[ky, kx, cin, cout] == torch_weight[cin, cout, ky, kx]``. Covers the DCGAN, U-Net,
    ResNet-generator and StarGAN upsampling layers.
    """

    features: int
    kernel_size: int = 4
    stride: int = 2
    padding: int = 1
    output_padding: int = 0
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = jnp.float32
    # PyTorch's default init (its fan-in of a transposed conv counts the output channels).
    kernel_init: Any = nn.initializers.variance_scaling(1 / 3, "fan_in", "uniform", in_axis=-1, out_axis=-2)
    impl: str = "auto"            # convolution lowering (see `conv2d`)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k, s = self.kernel_size, self.stride
        if k - s - 2 * self.padding + self.output_padding != 0:
            raise ValueError(f"ConvTranspose(kernel={k}, stride={s}, padding={self.padding}, "
                             f"output_padding={self.output_padding}) does not upsample by exactly {s}")
        kernel = self.param("kernel", self.kernel_init, (k, k, x.shape[-1], self.features), self.param_dtype)
        dtype = self.dtype or x.dtype
        taps, offset, base = _phase_plan(k, s, self.padding)
        t, max_off = taps.shape[1], int(offset.max())
        pad = (-base, max_off + base + t - 1)
        y = conv2d(x.astype(dtype), phase_kernel(kernel.astype(dtype), taps), 1, (pad, pad), self.impl)
        n, h, w = x.shape[:3]
        y = y.reshape(n, h + max_off, w + max_off, s, s, self.features)
        phases = [[y[:, offset[a]:offset[a] + h, offset[b]:offset[b] + w, a, b] for b in range(s)]
                  for a in range(s)]
        y = jnp.stack([jnp.stack(row, axis=3) for row in phases], axis=2)   # [n, h, a, w, b, c]
        y = y.reshape(n, h * s, w * s, self.features)
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,), self.param_dtype).astype(dtype)
        return y
