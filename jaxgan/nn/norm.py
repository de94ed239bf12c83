"""Normalisation layers chosen by name, so one block serves batch, instance and layer norm."""
from __future__ import annotations

from typing import Callable

import flax.linen as nn
import jax

NORMS = ("batch", "instance", "layer", "none")


def make_norm(kind: str, train: bool, name: str | None = None) -> Callable[[jax.Array], jax.Array]:
    """A normalisation layer (PyTorch defaults: eps 1e-5, running-average momentum 0.1)."""
    if kind == "batch":
        return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                            scale_init=_normal_around_one, name=name)
    if kind == "instance":
        return nn.InstanceNorm(epsilon=1e-5, name=name)
    if kind == "layer":
        return nn.LayerNorm(epsilon=1e-5, name=name)
    if kind == "none":
        return lambda x: x
    raise ValueError(f"unknown norm {kind!r}; choose one of {', '.join(NORMS)}")


def _normal_around_one(key: jax.Array, shape: tuple[int, ...], dtype=jax.numpy.float32) -> jax.Array:
    """BN scale ~ N(1, 0.02), the DCGAN initialisation."""
    return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)
