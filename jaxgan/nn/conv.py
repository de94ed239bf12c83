"""2-D convolution with CPU-fast lowerings, and the `Conv` layer every model uses.

On CPU, XLA's own convolution (Eigen, and especially its gradients) is 2-3x slower than a matrix
multiply of the same arithmetic, and strided convolutions' input gradients (dilated convolutions) are
slower still. Two lowerings avoid both; each first turns a strided convolution into a stride-1 one
(space-to-depth of the input, the kernel regrouped to match):

- ``space_to_depth``: then XLA's stride-1 convolution, which the CPU backend hands to the YNNPACK
  library when `jaxgan.xla_cpu` has turned it on (forward and both gradients; the fastest on CPU,
  benchmarks/RESULTS.md: Speed). From `NATIVE_STRIDED_BATCH` images per device, a strided
  convolution's forward pass and weight gradient run as the native strided convolution instead (YNNPACK
  runs them 1.2-1.7x faster than the space-to-depth forms, which copy the input rearranged); its input
  gradient always takes the space-to-depth form;
- ``matmul``: then an im2col of the (few) window taps and a single matrix multiply, whose gradients are
  matrix multiplies too; when the layer narrows strongly (``cin >= 8 cout``, e.g. a 7x7 conv to RGB) the
  im2col is taken on the output side instead, so the materialised tensor stays small. Layers whose
  im2col would exceed `MATMUL_MAX_BYTES` use the stride-1 convolution instead, so a convolution's working
  set stays bounded whatever the image size or layer width.

The lowering is a field of each layer (``impl``, set from ``config.model.conv_impl`` like ``dtype``);
``auto`` picks at trace time: the native convolution (``xla``: cuDNN) off CPU, and on CPU
``space_to_depth`` where this process's XLA flags let YNNPACK run it (`jaxgan.xla_cpu`), except for
small layers (at most `SMALL_CONV_PIXELS` output pixels and an im2col of at most `SMALL_CONV_BYTES`),
which run as ``matmul``.
"""
from __future__ import annotations

import functools
from typing import Any, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan import parallel, xla_cpu
from jaxgan.errors import ConfigError

PadPairs = tuple[tuple[int, int], tuple[int, int]]
Padding = int | PadPairs
Impl = Literal["auto", "xla", "matmul", "space_to_depth"]
CONV_IMPLS = ("auto", "xla", "matmul", "space_to_depth")
#: Largest im2col buffer ``auto`` materialises for one layer; larger layers use the native convolution.
MATMUL_MAX_BYTES = 512 * 2**20
#: ``auto`` on CPU runs layers with at most this many output pixels on one device (its share of the batch
#: included) and an im2col of at most `SMALL_CONV_BYTES` as the matmul lowering even where YNNPACK takes
#: convolutions: there (a U-Net's inner layers at batch 1) one matrix multiply beats YNNPACK's
#: convolution 1.2-6x (pix2pix's step: +8%).
#: Layers with more output pixels but few channels (the evaluation's digit classifier: 1,024-16,384
#: output pixels, 3-256 input channels) run faster in YNNPACK (benchmarks/RESULTS.md: Speed).
SMALL_CONV_PIXELS = 256
SMALL_CONV_BYTES = 8 * 2**20
#: The space-to-depth lowering runs a strided convolution natively (its forward pass and weight
#: gradient) from this many images per device: XLA computes the weight gradient with the batch as the
#: innermost dimension, which YNNPACK runs 1.2-1.4x faster than the space-to-depth form at 16 images and
#: 2-4x slower at 1-4 (benchmarks/RESULTS.md: Speed).
NATIVE_STRIDED_BATCH = 16


def resolved_impl(impl: str) -> str:
    if impl not in CONV_IMPLS:
        raise ConfigError(f"conv impl must be one of {', '.join(CONV_IMPLS)}, not {impl!r}")
    if impl == "auto":
        if jax.default_backend() != "cpu":
            return "xla"
        return "space_to_depth" if xla_cpu.ynnpack_convolutions() else "matmul"
    return impl


def _pairs(padding: Padding) -> PadPairs:
    if isinstance(padding, int):
        return (padding, padding), (padding, padding)
    return tuple(tuple(p) for p in padding)  # type: ignore[return-value]


def _space_to_depth(x: jax.Array, s: int) -> jax.Array:
    n, h, w, c = x.shape
    x = x.reshape(n, h // s, s, w // s, s, c)
    return jnp.transpose(x, (0, 1, 3, 2, 4, 5)).reshape(n, h // s, w // s, s * s * c)


def _as_stride_one(x: jax.Array, kernel: jax.Array, stride: int) -> tuple[jax.Array, jax.Array]:
    """``(x', kernel')`` whose VALID stride-1 convolution equals ``x``'s VALID stride-``stride`` one with
    ``kernel`` (``x`` already padded): space-to-depth of ``x``, the kernel zero-padded to a multiple of the
    stride and regrouped the same way."""
    if stride == 1:
        return x, kernel
    kh, kw, cin, cout = kernel.shape
    ho, wo = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    th, tw = -(-kh // stride), -(-kw // stride)
    need_h, need_w = stride * (ho + th - 1), stride * (wo + tw - 1)
    x = x[:, :need_h, :need_w]
    x = jnp.pad(x, ((0, 0), (0, need_h - x.shape[1]), (0, need_w - x.shape[2]), (0, 0)))
    kernel = jnp.pad(kernel, ((0, th * stride - kh), (0, tw * stride - kw), (0, 0), (0, 0)))
    kernel = kernel.reshape(th, stride, tw, stride, cin, cout)
    kernel = jnp.transpose(kernel, (0, 2, 1, 3, 4, 5)).reshape(th, tw, stride * stride * cin, cout)
    return _space_to_depth(x, stride), kernel


def native_conv(x: jax.Array, kernel: jax.Array, stride: int, padding: Padding) -> jax.Array:
    """XLA's own convolution of NHWC ``x`` with an HWIO ``kernel`` (no lowering of ours)."""
    return jax.lax.conv_general_dilated(x, kernel, (stride, stride), _pairs(padding),
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))


@jax.custom_vjp
def _stride_one_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """VALID stride-1 convolution whose gradients are spelled out, so that every derivative, to any order,
    is again a convolution of one of the two forms YNNPACK runs (this one, and the weight gradient as XLA
    writes it). Left to autodiff, the second derivatives of a gradient penalty take forms it does not
    run, which XLA's fallback computes ~10x slower than the matmul lowering."""
    return native_conv(x, kernel, 1, 0)


def _stride_one_conv_fwd(x: jax.Array, kernel: jax.Array) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    return _stride_one_conv(x, kernel), (x, kernel)


def _stride_one_conv_bwd(residuals: tuple[jax.Array, jax.Array], dy: jax.Array) -> tuple[jax.Array, jax.Array]:
    x, kernel = residuals
    kh, kw = kernel.shape[:2]
    padded = jnp.pad(dy, ((0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1), (0, 0)))
    dx = _stride_one_conv(padded, jnp.transpose(jnp.flip(kernel, (0, 1)), (0, 1, 3, 2)))
    dkernel = jax.vjp(lambda k: native_conv(x, k, 1, 0), kernel)[1](dy)[0]
    return dx, dkernel


_stride_one_conv.defvjp(_stride_one_conv_fwd, _stride_one_conv_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _strided_conv(x: jax.Array, kernel: jax.Array, stride: int, pads: PadPairs) -> jax.Array:
    """Stride-``stride`` convolution with zero padding ``pads``, run natively, forward and weight gradient;
    its input gradient is that of the space-to-depth form (`_as_stride_one`, then `_stride_one_conv`):
    natively a dilated convolution, which XLA's CPU backend runs 2-3x slower."""
    return native_conv(x, kernel, stride, pads)


def _strided_conv_fwd(x: jax.Array, kernel: jax.Array, stride: int, pads: PadPairs
                      ) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    return _strided_conv(x, kernel, stride, pads), (x, kernel)


def _strided_conv_bwd(stride: int, pads: PadPairs, residuals: tuple[jax.Array, jax.Array], dy: jax.Array
                      ) -> tuple[jax.Array, jax.Array]:
    x, kernel = residuals

    def stride_one_form(x: jax.Array) -> jax.Array:
        return _stride_one_conv(*_as_stride_one(jnp.pad(x, ((0, 0), *pads, (0, 0))), kernel, stride))

    dx = jax.vjp(stride_one_form, x)[1](dy)[0]
    dkernel = jax.vjp(lambda k: native_conv(x, k, stride, pads), kernel)[1](dy)[0]
    return dx, dkernel


_strided_conv.defvjp(_strided_conv_fwd, _strided_conv_bwd)


def _batch_per_device(x: jax.Array) -> int:
    """``x``'s batch on each device, split over the mesh's data axis as the trainer shards it."""
    return -(-x.shape[0] // parallel.batch_shards())


def _small(x: jax.Array, kernel: jax.Array) -> bool:
    """Whether a VALID stride-1 convolution of ``x`` with ``kernel`` has at most `SMALL_CONV_PIXELS`
    output pixels and an (input-side) im2col of at most `SMALL_CONV_BYTES` on each device (the batch
    split over the mesh's data axis, as the trainer shards it)."""
    kh, kw, cin, _ = kernel.shape
    _, h, w, _ = x.shape
    pixels = _batch_per_device(x) * (h - kh + 1) * (w - kw + 1)
    return pixels <= SMALL_CONV_PIXELS and pixels * kh * kw * cin * x.dtype.itemsize <= SMALL_CONV_BYTES


def _conv_matmul(x: jax.Array, kernel: jax.Array, max_bytes: float) -> jax.Array | None:
    """VALID stride-1 convolution as im2col + one matmul, or None where the im2col buffer would exceed
    ``max_bytes``."""
    kh, kw, cin, cout = kernel.shape
    n, h, w, _ = x.shape
    ho, wo = h - kh + 1, w - kw + 1
    if kh == 1 and kw == 1:
        y = jnp.dot(x[:, :ho, :wo].reshape(-1, cin), kernel.reshape(cin, cout))
        return y.reshape(n, ho, wo, cout)
    output_side = cin >= 8 * cout
    columns = kh * kw * (cout if output_side else cin)
    pixels = x.shape[1] * x.shape[2] if output_side else ho * wo
    if n * pixels * columns * x.dtype.itemsize > max_bytes:
        return None
    if output_side:
        # Output-side im2col: multiply every input pixel by every tap at once, then add the taps'
        # shifted contributions. Materialises kh*kw*cout values per pixel instead of kh*kw*cin
        # (measured: pays off for strongly narrowing layers such as a 7x7 conv to RGB, not below 8x).
        hp, wp = x.shape[1], x.shape[2]
        taps = jnp.dot(x.reshape(-1, cin), jnp.transpose(kernel, (2, 0, 1, 3)).reshape(cin, -1))
        taps = taps.reshape(n, hp, wp, kh, kw, cout)
        return sum(taps[:, i:i + ho, j:j + wo, i, j] for i in range(kh) for j in range(kw))
    patches = jnp.concatenate([x[:, i:i + ho, j:j + wo] for i in range(kh) for j in range(kw)], axis=-1)
    y = jnp.dot(patches.reshape(-1, kh * kw * cin), kernel.reshape(-1, cout))
    return y.reshape(n, ho, wo, cout)


def conv2d(x: jax.Array, kernel: jax.Array, stride: int = 1, padding: Padding = 0, impl: Impl = "auto") -> jax.Array:
    """Cross-correlation of NHWC ``x`` with an HWIO ``kernel`` (zero padding, PyTorch semantics); ``impl``
    as described in the module docstring."""
    resolved = resolved_impl(impl)
    if resolved == "xla":
        return native_conv(x, kernel, stride, padding)
    pads = _pairs(padding)
    stride_one_x, stride_one_kernel = _as_stride_one(jnp.pad(x, ((0, 0), *pads, (0, 0))), kernel, stride)
    if impl == "auto" and resolved == "space_to_depth" and _small(stride_one_x, stride_one_kernel):
        resolved = "matmul"
    if resolved == "matmul":
        y = _conv_matmul(stride_one_x, stride_one_kernel, MATMUL_MAX_BYTES if impl == "auto" else float("inf"))
        if y is not None:
            return y
    if stride > 1 and _batch_per_device(x) >= NATIVE_STRIDED_BATCH:
        return _strided_conv(x, kernel, stride, pads)
    return _stride_one_conv(stride_one_x, stride_one_kernel)


#: PyTorch's default initialisation of a convolution's kernel (Kaiming uniform, a = sqrt 5)
TORCH_KERNEL_INIT = nn.initializers.variance_scaling(1 / 3, "fan_in", "uniform")


def _parameters(layer: Conv | ConvWeights, in_features: int) -> tuple[jax.Array, jax.Array | None]:
    """A convolution layer's HWIO kernel and bias (None without ``use_bias``), created in ``layer``."""
    k = layer.kernel_size
    kernel = layer.param("kernel", layer.kernel_init, (k, k, in_features, layer.features), layer.param_dtype)
    if not layer.use_bias:
        return kernel, None
    return kernel, layer.param("bias", nn.initializers.zeros, (layer.features,), layer.param_dtype)


class ConvWeights(nn.Module):
    """A `Conv`'s parameters without its convolution (the same names, shapes and initialisers), for blocks
    that run their convolutions themselves (`jaxgan.nn.residual_dense_block`); called with the number
    of input channels, it returns the kernel and bias (None without ``use_bias``) in ``param_dtype``."""

    features: int
    kernel_size: int = 3
    use_bias: bool = True
    param_dtype: Any = jnp.float32
    kernel_init: Any = TORCH_KERNEL_INIT

    @nn.compact
    def __call__(self, in_features: int) -> tuple[jax.Array, jax.Array | None]:
        return _parameters(self, in_features)


class Conv(nn.Module):
    """A square-kernel 2-D convolution layer (NHWC) computed with `conv2d`.

    ``padding`` is an int (both sides) or ``((top, bottom), (left, right))``; ``padding_mode`` ``reflect``
    pads by reflection before a VALID convolution; ``impl`` picks the lowering (see `conv2d`).
    """

    features: int
    kernel_size: int = 3
    stride: int = 1
    padding: Padding = 0
    padding_mode: Literal["zeros", "reflect"] = "zeros"
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = jnp.float32
    kernel_init: Any = TORCH_KERNEL_INIT
    impl: Impl = "auto"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel, bias = _parameters(self, x.shape[-1])
        dtype = self.dtype or x.dtype
        x, kernel = x.astype(dtype), kernel.astype(dtype)
        padding = self.padding
        if self.padding_mode == "reflect":
            (t, b), (l, r) = _pairs(padding)
            x = jnp.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), mode="reflect")
            padding = 0
        y = conv2d(x, kernel, self.stride, padding, self.impl)
        if bias is not None:
            y = y + bias.astype(dtype)
        return y
