"""Composite blocks shared by the image-to-image models."""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax

from jaxgan.nn.conv import Conv
from jaxgan.nn.norm import make_norm


class ResidualBlock(nn.Module):
    """``x + norm(conv(act(norm(conv(x)))))`` with 3x3 convs (ResNet generator, StarGAN, SRResNet).

    ``padding_mode`` reflect (CycleGAN) or zeros; ``activation`` is any elementwise module/function.
    """

    features: int
    norm: str = "instance"
    padding_mode: str = "reflect"
    use_bias: bool = True
    activation: Any = nn.relu
    dtype: Any = None

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        h = Conv(self.features, 3, 1, 1, self.padding_mode, use_bias=self.use_bias, dtype=self.dtype)(x)
        h = self.activation(make_norm(self.norm, train)(h))
        h = Conv(self.features, 3, 1, 1, self.padding_mode, use_bias=self.use_bias, dtype=self.dtype)(h)
        return x + make_norm(self.norm, train)(h)
