"""Composite blocks shared by the models (ResNet generator, SRResNet): activations by name, residual blocks."""
from __future__ import annotations

from typing import Any, Callable

import flax.linen as nn
import jax

from jaxgan.errors import ConfigError
from jaxgan.nn.conv import Conv
from jaxgan.nn.norm import make_norm


def activation(name: str) -> Callable[[jax.Array], jax.Array]:
    """An activation by name: relu, prelu (a learned slope, PyTorch's init 0.25) or leaky_relu (0.2).

    Call inside a compact module: ``prelu`` creates its parameter there.
    """
    if name == "relu":
        return nn.relu
    if name == "prelu":
        return nn.PReLU(negative_slope_init=0.25)
    if name == "leaky_relu":
        return lambda x: nn.leaky_relu(x, 0.2)
    raise ConfigError(f"unknown activation {name!r}; choose relu, prelu or leaky_relu")


class ResidualBlock(nn.Module):
    """``x + norm(conv(act(norm(conv(x)))))`` with 3x3 convs (ResNet generator, StarGAN, SRResNet).

    ``padding_mode`` reflect (CycleGAN) or zeros; ``act`` names the activation (see `activation`);
    ``kernel_init`` defaults to PyTorch's; ``dropout`` > 0 drops after the first activation when training
    (the pix2pix code's ResNet generator with dropout).
    """

    features: int
    norm: str = "instance"
    padding_mode: str = "reflect"
    use_bias: bool = True
    act: str = "relu"
    dtype: Any = None
    conv_impl: str = "auto"
    kernel_init: Any = Conv.kernel_init
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        conv = dict(use_bias=self.use_bias, dtype=self.dtype, impl=self.conv_impl, kernel_init=self.kernel_init)
        h = Conv(self.features, 3, 1, 1, self.padding_mode, **conv)(x)
        h = activation(self.act)(make_norm(self.norm, train)(h))
        if self.dropout:
            h = nn.Dropout(self.dropout, deterministic=not train)(h)
        h = Conv(self.features, 3, 1, 1, self.padding_mode, **conv)(h)
        return x + make_norm(self.norm, train)(h)
