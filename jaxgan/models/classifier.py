"""A small convolutional classifier whose penultimate layer is the feature space of the GAN evaluation."""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.nn import Conv


class DigitClassifier(nn.Module):
    """``image -> (logits [B, classes], features [B, feature_dim])``."""

    num_classes: int
    feature_dim: int = 64
    input_size: int = 16         # images are resized to this first: cheap, and enough for digits
    conv_impl: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = jax.image.resize(x, (x.shape[0], self.input_size, self.input_size, x.shape[-1]), "linear")
        h = nn.relu(Conv(32, 3, 1, 1, impl=self.conv_impl)(x))
        h = nn.relu(Conv(64, 4, 2, 1, impl=self.conv_impl)(h))
        h = nn.relu(Conv(64, 4, 2, 1, impl=self.conv_impl)(h))
        h = jnp.mean(h, axis=(1, 2))
        features = nn.relu(nn.Dense(self.feature_dim)(h))
        return nn.Dense(self.num_classes)(features), features
