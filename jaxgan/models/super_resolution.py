"""Super-resolution networks: SRResNet and SRGAN's discriminator (Ledig et al. 2017); ESRGAN's RRDBNet,
BasicSR's MSRResNet and VGG-style discriminator (Wang et al. 2018).

The BasicSR networks follow its module order and key names (`jaxgan.torch_layouts`), so its checkpoints
import unchanged."""
from __future__ import annotations

import functools
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.errors import ConfigError
from jaxgan.nn import (Conv, ConvWeights, ResidualBlock, SubPixelConv, activation, make_norm, pixel_shuffle,
                       pixel_unshuffle, residual_dense_block)

G_ARCHS = ("srresnet", "rrdb", "msrresnet")
D_ARCHS = ("srgan", "vgg")
D_NORMS = ("batch", "spectral", "none")


def sr_generator(m: Any, scale: int, dtype: Any = None, conv_impl: str = "auto") -> nn.Module:
    """The generator ``m.arch`` names (``config.model``), on jaxgan's [-1, 1] images: `SRResNet`, or
    `RRDBNet` / `MSRResNet` run through `UnitRange` (they work on [0, 1]); ``m.bicubic_skip`` for each."""
    options = {"dtype": dtype, "conv_impl": conv_impl}
    if m.arch == "srresnet":
        return SRResNet(scale, m.num_blocks, m.features, 3, bicubic_skip=bool(m.bicubic_skip), **options)
    if m.arch == "rrdb":
        return UnitRange(RRDBNet(scale, m.num_blocks, m.features, growth=m.growth, **options), bool(m.bicubic_skip),
                         scale)
    if m.arch == "msrresnet":
        return UnitRange(MSRResNet(scale, m.num_blocks, m.features, **options), bool(m.bicubic_skip), scale)
    raise ConfigError(f"config.model.arch must be one of {', '.join(G_ARCHS)}, not {m.arch!r}")


def sr_discriminator(m: Any, dtype: Any = None, conv_impl: str = "auto") -> nn.Module:
    """The discriminator ``m.d_arch`` names: SRGAN's, or the VGG-style one with ``m.d_norm``."""
    if m.d_arch == "srgan":
        return SRGANDiscriminator(m.d_features, dtype=dtype, conv_impl=conv_impl)
    return VGGStyleDiscriminator(m.d_features, m.d_norm, dtype=dtype, conv_impl=conv_impl)


def upscaled(x: jax.Array, scale: int, method: str = "bicubic") -> jax.Array:
    """``x`` [N, H, W, C] resized to [N, scale*H, scale*W, C] in float32 (the networks' skip paths)."""
    n, height, width, c = x.shape
    return jax.image.resize(x.astype(jnp.float32), (n, scale * height, scale * width, c), method)


class SRNetwork(nn.Module):
    """The fields every super-resolution generator here has."""

    scale: int = 4
    num_blocks: int = 16
    features: int = 64
    channels: int = 3
    dtype: Any = None
    conv_impl: str = "auto"

    def size_multiple(self) -> int:
        """Input sides must be multiples of this."""
        return 1


class SRResNet(SRNetwork):
    """9x9 head + PReLU, ``num_blocks`` residual blocks (BN + PReLU), conv + BN, long skip, one
    sub-pixel x2 stage (conv to 4x channels, pixel shuffle, PReLU; ICNR-initialised, so it starts as
    nearest-neighbour upsampling: no initial checkerboard) per factor of 2, 9x9 tail.
    Output is linear (the paper's SRResNet regresses [-1, 1] targets directly). ``bicubic_skip`` (not in
    the paper) adds the bicubic upscaling of the input to the output, so the network learns the residual
    and starts at bicubic quality."""

    bicubic_skip: bool = False

    def receptive_radius(self) -> int:
        """Input pixels on each side that can reach an output pixel: the overlap tiles need to be exact."""
        radius = 4                                   # 9x9 tail, at the output resolution
        for _ in range(self._stages()):
            radius = math.ceil(radius / 2) + 1       # pixel shuffle halves it; the stage's 3x3 conv adds 1
        return radius + 1 + 2 * self.num_blocks + 4  # body's last conv, two 3x3 per block, 9x9 head

    def _stages(self) -> int:
        stages = int(math.log2(self.scale))
        if 2 ** stages != self.scale or stages < 1:
            raise ConfigError(f"scale must be a power of two >= 2, got {self.scale}")
        return stages

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        stages = self._stages()
        f = self.features
        h = activation("prelu")(Conv(f, 9, 1, 4, dtype=self.dtype, impl=self.conv_impl)(x))
        body = h
        for _ in range(self.num_blocks):
            body = ResidualBlock(f, "batch", "zeros", act="prelu", dtype=self.dtype,
                                 conv_impl=self.conv_impl)(body, train)
        body = make_norm("batch", train)(Conv(f, 3, 1, 1, dtype=self.dtype, impl=self.conv_impl)(body))
        h = h + body
        for _ in range(stages):
            h = activation("prelu")(SubPixelConv(f, 2, dtype=self.dtype, impl=self.conv_impl)(h))
        out = Conv(self.channels, 9, 1, 4, dtype=self.dtype, impl=self.conv_impl)(h).astype(jnp.float32)
        return out + upscaled(x, self.scale) if self.bicubic_skip else out


class SRGANDiscriminator(nn.Module):
    """The paper's 8 conv layers (64..512 filters, stride 2 every other layer, BN, LeakyReLU 0.2),
    dense 1024, dense 1 -> one logit per image."""

    features: int = 64
    dtype: Any = None
    conv_impl: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        f = self.features
        h = nn.leaky_relu(Conv(f, 3, 1, 1, dtype=self.dtype, impl=self.conv_impl)(x), 0.2)
        for width, stride in ((f, 2), (2 * f, 1), (2 * f, 2), (4 * f, 1), (4 * f, 2), (8 * f, 1), (8 * f, 2)):
            h = Conv(width, 3, stride, 1, dtype=self.dtype, impl=self.conv_impl)(h)
            h = nn.leaky_relu(make_norm("batch", train)(h), 0.2)
        h = nn.leaky_relu(nn.Dense(16 * f, dtype=self.dtype)(h.reshape(h.shape[0], -1)), 0.2)
        return nn.Dense(1, dtype=self.dtype)(h)[:, 0].astype(jnp.float32)


# ------------------------------------------------------------------------------------------ ESRGAN
def _basicsr_init(scale: float) -> Any:
    """BasicSR's ``default_init_weights`` for a conv kernel: Kaiming normal x ``scale``."""
    return nn.initializers.variance_scaling(2.0 * scale * scale, "fan_in", "normal")


def _basicsr_conv(features: int, dtype: Any, impl: str, scale: float = 1.0) -> Conv:
    """A 'same' 3x3 convolution initialised as BasicSR's ``default_init_weights``."""
    return Conv(features, 3, 1, 1, dtype=dtype, impl=impl, kernel_init=_basicsr_init(scale))


class RRDB(nn.Module):
    """ESRGAN's residual-in-residual dense block: three `residual_dense_block`s (five 3x3 convs each, seeing
    the input and every earlier output, ``growth`` channels each but the last, which returns to
    ``features``); the RRDB's output = input + 0.2 x theirs. Parameters ``Conv_0`` .. ``Conv_14``."""

    features: int = 64
    growth: int = 32
    dtype: Any = None
    conv_impl: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        dtype = self.dtype or x.dtype
        widths = [self.features] + [self.growth] * 4
        h = x.astype(dtype)
        for block in range(3):
            weights = []
            for k in range(5):
                layer = ConvWeights(self.features if k == 4 else self.growth, kernel_init=_basicsr_init(0.1),
                                    name=f"Conv_{5 * block + k}")
                kernel, bias = layer(sum(widths[:k + 1]))
                weights.append((kernel.astype(dtype), bias.astype(dtype)))
            h = residual_dense_block(h, weights, self.conv_impl)
        return x + 0.2 * h


def _nearest_up2(x: jax.Array) -> jax.Array:
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


class RRDBNet(SRNetwork):
    """ESRGAN's generator (Wang et al. 2018; BasicSR's ``RRDBNet``): conv, ``num_blocks`` `RRDB`s, conv,
    long skip, two (nearest x2 upsampling, conv, LeakyReLU) stages, conv, LeakyReLU, conv. No batch norm.
    ``scale`` 4, or 2 / 1 with the input pixel-unshuffled by 2 / 4 first (as BasicSR, for Real-ESRGAN's
    x2 model). Works on images in [0, 1], as the reference models were trained; output linear."""

    num_blocks: int = 23
    growth: int = 32

    def unshuffle(self) -> int:
        """The input's pixel-unshuffle factor (1: none)."""
        if self.scale not in (1, 2, 4):
            raise ConfigError(f"scale must be 1, 2 or 4 for RRDBNet, got {self.scale}")
        return 4 // self.scale

    def size_multiple(self) -> int:
        """Input sides must be multiples of the pixel-unshuffle factor."""
        return self.unshuffle()

    def receptive_radius(self) -> int:
        """Input pixels on each side that can reach an output pixel (a multiple of the unshuffle factor)."""
        grid = 1 + 15 * self.num_blocks + 1 + 2       # in unshuffled pixels: head, 5 convs per RDB, body conv,
        u = self.unshuffle()                          # and the 4 convs after the upsampling (2 pixels)
        return grid if u == 1 else u * (grid + 1)

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        conv = functools.partial(_basicsr_conv, dtype=self.dtype, impl=self.conv_impl)
        u = self.unshuffle()
        if u > 1:
            x = pixel_unshuffle(x, u)
        feat = conv(self.features)(x)
        body = feat
        for _ in range(self.num_blocks):
            body = RRDB(self.features, self.growth, self.dtype, self.conv_impl)(body)
        feat = feat + conv(self.features)(body)
        for _ in range(2):
            feat = nn.leaky_relu(conv(self.features)(_nearest_up2(feat)), 0.2)
        feat = nn.leaky_relu(conv(self.features)(feat), 0.2)
        return conv(self.channels)(feat).astype(jnp.float32)


class MSRResNet(SRNetwork):
    """BasicSR's ``MSRResNet`` (SRResNet without batch norm): conv + LeakyReLU 0.1, ``num_blocks``
    residual blocks (conv, ReLU, conv, no norm), sub-pixel x2 stages (x3 in one), conv + LeakyReLU 0.1,
    conv, plus the bilinear upscaling of the input. Works on images in [0, 1]; output linear."""

    def stages(self) -> tuple[int, ...]:
        """The pixel-shuffle factors, in order."""
        if self.scale not in (2, 3, 4):
            raise ConfigError(f"scale must be 2, 3 or 4 for MSRResNet, got {self.scale}")
        return (2, 2) if self.scale == 4 else (self.scale,)

    def receptive_radius(self) -> int:
        """Input pixels on each side that can reach an output pixel."""
        return 1 + 2 * self.num_blocks + len(self.stages()) + 1

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        conv = functools.partial(_basicsr_conv, dtype=self.dtype, impl=self.conv_impl, scale=0.1)
        feat = nn.leaky_relu(conv(self.features)(x), 0.1)
        h = feat
        for _ in range(self.num_blocks):
            h = h + conv(self.features)(nn.relu(conv(self.features)(h)))
        for factor in self.stages():
            h = nn.leaky_relu(pixel_shuffle(conv(factor * factor * self.features)(h), factor), 0.1)
        out = conv(self.channels)(nn.leaky_relu(conv(self.features)(h), 0.1)).astype(jnp.float32)
        return out + upscaled(x, self.scale, "bilinear")


class UnitRange(nn.Module):
    """A network trained on images in [0, 1] (``net``) run on jaxgan's [-1, 1] images; ``bicubic_skip``
    (not in the BasicSR networks) adds the bicubic upscaling by ``scale`` of the input to the output."""

    net: nn.Module
    bicubic_skip: bool = False
    scale: int = 4

    def receptive_radius(self) -> int:
        return self.net.receptive_radius()

    def size_multiple(self) -> int:
        return self.net.size_multiple()

    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        out = self.net((x + 1.0) * 0.5, train) * 2.0
        return out + upscaled(x, self.scale) if self.bicubic_skip else out - 1.0


class VGGStyleDiscriminator(nn.Module):
    """BasicSR's ``VGGStyleDiscriminator`` (ESRGAN's D): pairs of (3x3 stride-1, 4x4 stride-2) convs from
    ``features`` to 8x ``features`` until the image is 4x4 (five pairs for 128 crops), LeakyReLU 0.2,
    dense 100, dense 1 -> one logit per image. ``norm``: ``batch`` (the reference: after every conv but
    the first), ``spectral`` (spectral normalisation of every layer, Miyato et al. 2018), or ``none``."""

    features: int = 64
    norm: str = "batch"
    dtype: Any = None
    conv_impl: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        if self.norm not in D_NORMS:
            raise ConfigError(f"model.d_norm must be one of {', '.join(D_NORMS)}, not {self.norm!r}")
        side = x.shape[1]
        pairs = int(math.log2(side // 4)) if side >= 8 else 0
        if side != 4 * 2 ** pairs or x.shape[2] != side:
            raise ConfigError(f"the VGG-style discriminator takes square crops of 4 x a power of two, not "
                              f"{x.shape[1]}x{x.shape[2]}")

        def layer(module: nn.Module, h: jax.Array, normalise: bool = True) -> jax.Array:
            if self.norm == "spectral":
                return nn.SpectralNorm(module)(h, update_stats=train)
            h = module(h)
            return make_norm("batch", train)(h) if self.norm == "batch" and normalise else h

        f, h = self.features, x
        widths = [f, 2 * f, 4 * f, 8 * f] + [8 * f] * max(0, pairs - 4)
        for i, width in enumerate(widths[:pairs]):
            for kernel, stride, normalised in ((3, 1, i > 0), (4, 2, True)):
                conv = Conv(width, kernel, stride, 1, use_bias=not (normalised and self.norm == "batch"),
                            dtype=self.dtype, impl=self.conv_impl)
                h = nn.leaky_relu(layer(conv, h, normalised), 0.2)
        h = h.reshape(h.shape[0], -1)
        h = nn.leaky_relu(layer(nn.Dense(100, dtype=self.dtype), h, False), 0.2)
        return layer(nn.Dense(1, dtype=self.dtype), h, False)[:, 0].astype(jnp.float32)
