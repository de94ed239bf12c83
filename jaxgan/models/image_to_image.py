"""Image-to-image networks: U-Net and ResNet generators (pix2pix, CycleGAN) and the PatchGAN discriminator.

Layouts follow Isola et al. 2017 / Zhu et al. 2017 and their reference code: convolutions 4x4 stride 2,
LeakyReLU(0.2) on the way down, ReLU on the way up, dropout 0.5 in the inner up-blocks, biases
wherever no batch norm follows (instance norm has no learned shift, as ``InstanceNorm2d(affine=False)`` in
the reference code; ``norm="instance_affine"`` adds one).
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.errors import ConfigError
from jaxgan.nn import Conv, ConvTranspose, ResidualBlock, make_norm

PIX2PIX_INIT = nn.initializers.normal(0.02)


class UNetGenerator(nn.Module):
    """U-Net with ``num_downs`` halvings (unet_256: 8, unet_128: 7) and skip connections.

    ``input_skip`` (not in the paper, for tasks whose output keeps the input's structure, such as
    colourisation): the output is ``tanh(atanh(x) + G(x))``, so the network starts as the identity and
    learns the change. ``keep_luminance`` (not in the paper, for colourisation): the output is the
    input's BT.601 luminance plus G's colour (its output less its own luminance) at 1/4 resolution,
    upsampled bilinearly: G picks only the colour, and colour is low-frequency (colourisation networks
    predict chrominance for a given lightness at 1/4 resolution, Zhang et al. 2016)."""

    out_channels: int = 3
    num_downs: int = 8
    features: int = 64
    norm: str = "batch"
    dropout: float = 0.5
    dtype: Any = None
    conv_impl: str = "auto"
    input_skip: bool = False
    keep_luminance: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        if x.shape[1] % 2 ** self.num_downs or x.shape[2] % 2 ** self.num_downs:
            raise ValueError(f"U-Net with {self.num_downs} downsamplings needs sides divisible by "
                             f"{2 ** self.num_downs}, got {x.shape[1:3]}")
        bias = self.norm != "batch"
        widths = [min(self.features * 2 ** i, self.features * 8) for i in range(self.num_downs)]
        conv = dict(kernel_init=PIX2PIX_INIT, dtype=self.dtype, impl=self.conv_impl)
        skips, h = [], x
        for i, width in enumerate(widths):                               # encoder
            if i > 0:
                h = nn.leaky_relu(h, 0.2)
            h = Conv(width, 4, 2, 1, use_bias=bias, **conv)(h)
            if 0 < i < self.num_downs - 1:
                h = make_norm(self.norm, train)(h)
            skips.append(h)
        for i in reversed(range(self.num_downs)):                        # decoder
            if i < self.num_downs - 1:
                h = jnp.concatenate([h, skips[i]], axis=-1)
            h = nn.relu(h)
            if i == 0:
                h = ConvTranspose(self.out_channels, 4, 2, 1, use_bias=True, **conv)(h).astype(jnp.float32)
                if self.input_skip:
                    h = h + jnp.arctanh(jnp.clip(x.astype(jnp.float32), -0.999, 0.999))
                out = jnp.tanh(h)
                if self.keep_luminance:
                    out = jnp.clip(luminance(x.astype(jnp.float32)) + coarse_colour(out), -1.0, 1.0)
                return out
            h = ConvTranspose(widths[i - 1], 4, 2, 1, use_bias=bias, **conv)(h)
            h = make_norm(self.norm, train)(h)
            # dropout in the inner blocks at bottleneck width (levels 4 .. num_downs-2; 3 in unet_256)
            if self.dropout and 4 <= i < self.num_downs - 1:
                h = nn.Dropout(self.dropout, deterministic=not train)(h)
        raise AssertionError("unreachable")


def luminance(x: jax.Array) -> jax.Array:
    """BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` of ``[..., 3]`` images (in [-1, 1]: the weights sum to 1),
    ``[..., 1]``; a one-channel image is its own."""
    if x.shape[-1] == 1:
        return x
    return (x @ jnp.array([0.299, 0.587, 0.114], x.dtype))[..., None]


def coarse_colour(x: jax.Array, factor: int = 4) -> jax.Array:
    """``x`` less its luminance, averaged over ``factor`` x ``factor`` blocks and upsampled bilinearly
    (sides must be multiples of ``factor``)."""
    colour = x - luminance(x)
    b, h, w, c = colour.shape
    blocks = colour.reshape(b, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))
    return jax.image.resize(blocks, (b, h, w, c), "linear")


class ResNetGenerator(nn.Module):
    """A 7x7 head, two stride-2 downsamplings, ``num_blocks`` residual blocks, two upsamplings, a 7x7 tail.

    CycleGAN's generator with the defaults (3x3 down / transposed convs, reflect padding, biases, N(0, 0.02)
    init); StarGAN's (Choi et al. 2018) with ``kernel_size=4, padding_mode="zeros", use_bias=False``,
    ``norm="instance_affine"`` and PyTorch's default init. A ``condition`` ``[B, D]`` (StarGAN's target
    domain) is tiled over the image into ``D`` extra input channels. ``tail_bias`` (default: ``use_bias``)
    is the last convolution's: the pix2pix code keeps it with batch norm, where the others have none;
    ``dropout`` > 0 drops inside the residual blocks (its ``use_dropout``)."""

    out_channels: int = 3
    num_blocks: int = 9
    features: int = 64
    norm: str = "instance"
    dtype: Any = None
    conv_impl: str = "auto"
    kernel_size: int = 3
    padding_mode: str = "reflect"
    use_bias: bool = True
    kernel_init: Any = PIX2PIX_INIT
    tail_bias: bool | None = None
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x: jax.Array, condition: jax.Array | None = None, train: bool = True) -> jax.Array:
        if condition is not None:
            x = tile_condition(x, condition)
        conv = dict(kernel_init=self.kernel_init, dtype=self.dtype, impl=self.conv_impl, use_bias=self.use_bias)
        k = self.kernel_size
        h = Conv(self.features, 7, 1, 3, self.padding_mode, **conv)(x)
        h = nn.relu(make_norm(self.norm, train)(h))
        width = self.features
        for _ in range(2):
            width *= 2
            h = nn.relu(make_norm(self.norm, train)(Conv(width, k, 2, 1, **conv)(h)))
        for _ in range(self.num_blocks):
            h = ResidualBlock(width, self.norm, self.padding_mode, self.use_bias, dtype=self.dtype,
                              conv_impl=self.conv_impl, kernel_init=self.kernel_init, dropout=self.dropout)(h, train)
        for _ in range(2):
            width //= 2
            h = ConvTranspose(width, k, 2, 1, output_padding=4 - k, **conv)(h)   # exactly x2 (k = 3 or 4)
            h = nn.relu(make_norm(self.norm, train)(h))
        tail = dict(conv, use_bias=self.use_bias if self.tail_bias is None else self.tail_bias)
        h = Conv(self.out_channels, 7, 1, 3, self.padding_mode, **tail)(h)
        return jnp.tanh(h.astype(jnp.float32))


#: the generator architectures of the pix2pix / CycleGAN reference code (``model.arch``)
GENERATOR_ARCHS = ("unet", "resnet")


def image_generator(model: Any, channels: int, arch: str, **options: Any) -> nn.Module:
    """The pix2pix / CycleGAN generator a config's ``model`` fields describe, as the reference code's
    ``define_G`` builds it: ``unet`` (``num_downs``) or ``resnet`` (``num_blocks``), ``g_features``,
    ``norm``, ``dropout`` (U-Net: inner up-blocks; ResNet: inside the residual blocks); biases only where
    no batch norm follows, except the ResNet's last convolution."""
    dropout, keep_luminance = float(model.dropout), bool(model.keep_luminance)
    if arch == "unet":
        return UNetGenerator(channels, model.num_downs, model.g_features, model.norm, dropout,
                             input_skip=bool(model.input_skip), keep_luminance=keep_luminance, **options)
    if keep_luminance:
        raise ConfigError("config.model.keep_luminance needs model.arch=unet")
    if arch == "resnet":
        return ResNetGenerator(channels, model.num_blocks, model.g_features, model.norm,
                               use_bias=model.norm != "batch", tail_bias=True, dropout=dropout, **options)
    raise ConfigError(f"config.model.arch={arch!r} is unknown; choose one of {', '.join(GENERATOR_ARCHS)}")


def size_multiple(model: Any, arch: str) -> int:
    """The side an ``image_generator`` input must be a multiple of."""
    return 2 ** model.num_downs if arch == "unet" else 4


def tile_condition(x: jax.Array, condition: jax.Array) -> jax.Array:
    """``x`` [B, H, W, C] with ``condition`` [B, D] tiled over every pixel as D extra channels."""
    tiled = jnp.broadcast_to(condition[:, None, None, :].astype(x.dtype), x.shape[:3] + condition.shape[-1:])
    return jnp.concatenate([x, tiled], axis=-1)


class PatchGAN(nn.Module):
    """PatchGAN discriminator: one logit per (overlapping) patch; ``n_layers=3`` sees 70x70 patches."""

    features: int = 64
    n_layers: int = 3
    norm: str = "batch"
    dtype: Any = None
    conv_impl: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        conv = dict(kernel_init=PIX2PIX_INIT, dtype=self.dtype, impl=self.conv_impl)
        bias = self.norm != "batch"
        h = nn.leaky_relu(Conv(self.features, 4, 2, 1, **conv)(x), 0.2)
        for n in range(1, self.n_layers + 1):
            width = self.features * min(2 ** n, 8)
            stride = 2 if n < self.n_layers else 1
            h = Conv(width, 4, stride, 1, use_bias=bias, **conv)(h)
            h = nn.leaky_relu(make_norm(self.norm, train)(h), 0.2)
        return Conv(1, 4, 1, 1, **conv)(h)[..., 0].astype(jnp.float32)


def receptive_field(n_layers: int) -> int:
    """Receptive field (pixels) of a PatchGAN logit: 70 for n_layers=3, 34 for 2, 16 for 1."""
    field = 1
    strides = [2] * n_layers + [1, 1]                 # applied from the output back to the input
    for stride in reversed(strides):
        field = (field - 1) * stride + 4
    return field


class StarGANDiscriminator(nn.Module):
    """StarGAN's two-headed critic (Choi et al. 2018): ``num_layers`` 4x4 stride-2 convolutions with
    LeakyReLU(0.01) and no normalisation, then a 3x3 real/fake patch map ``[B, h, w]`` and a domain
    classification ``[B, num_domains]`` (a convolution over the whole remaining ``h x w`` grid).

    The classification head's kernel fixes the input side: ``image_size`` (divisible by ``2**num_layers``)."""

    image_size: int
    num_domains: int
    features: int = 64
    num_layers: int = 6
    dtype: Any = None
    conv_impl: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> tuple[jax.Array, jax.Array]:
        if x.shape[1] != self.image_size or x.shape[2] != self.image_size:
            raise ValueError(f"StarGAN's discriminator takes {self.image_size}x{self.image_size} images, "
                             f"got {x.shape[1]}x{x.shape[2]}")
        conv = dict(dtype=self.dtype, impl=self.conv_impl)
        h = x
        for i in range(self.num_layers):
            h = nn.leaky_relu(Conv(self.features * 2 ** i, 4, 2, 1, **conv)(h), 0.01)
        patches = Conv(1, 3, 1, 1, use_bias=False, **conv)(h)[..., 0]
        domains = Conv(self.num_domains, h.shape[1], 1, 0, use_bias=False, **conv)(h)[:, 0, 0]
        return patches.astype(jnp.float32), domains.astype(jnp.float32)
