"""SRResNet generator and SRGAN discriminator (Ledig et al. 2017)."""
from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.errors import ConfigError
from jaxgan.nn import Conv, ResidualBlock, SubPixelConv, activation, make_norm


class SRResNet(nn.Module):
    """9x9 head + PReLU, ``num_blocks`` residual blocks (BN + PReLU), conv + BN, long skip, one
    sub-pixel x2 stage (conv to 4x channels, pixel shuffle, PReLU; ICNR-initialised, so it starts as
    nearest-neighbour upsampling: no initial checkerboard) per factor of 2, 9x9 tail.
    Output is linear (the paper's SRResNet regresses [-1, 1] targets directly). ``bicubic_skip`` (not in
    the paper) adds the bicubic upscaling of the input to the output, so the network learns the residual
    and starts at bicubic quality."""

    scale: int = 4
    num_blocks: int = 16
    features: int = 64
    channels: int = 3
    dtype: Any = None
    conv_impl: str = "auto"
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
        if self.bicubic_skip:
            n, height, width, c = x.shape
            out = out + jax.image.resize(x.astype(jnp.float32), (n, self.scale * height, self.scale * width, c),
                                         "bicubic")
        return out


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
