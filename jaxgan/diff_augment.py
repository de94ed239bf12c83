"""Differentiable augmentation of the discriminator's inputs (DiffAugment, Zhao et al. 2020).

With little data D memorises the training images and G's signal fades (D's real/fake outputs drift to
1/0). DiffAugment applies random, differentiable transformations to *every* image D sees, real and
generated, in D's update and in G's (through which G's gradient flows), so D cannot memorise the exact
images while G still learns the un-augmented distribution. Each image gets its own draw.

- ``translation``: a shift of up to 1/8 of the side in each direction. Deliberate difference from the
  paper's code: the uncovered border repeats the image's edge pixels instead of zeros (0 is mid-grey in
  [-1, 1], an edge that real images never have).
- ``cutout``: a square of half the side, centred anywhere in the image, set to 0, as in the paper.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxgan.errors import ConfigError

AUGMENTATIONS = ("translation", "cutout")


def parse(policy: str) -> tuple[str, ...]:
    """``"translation,cutout"`` -> ``("translation", "cutout")`` ('' -> none); unknown names raise."""
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    for name in names:
        if name not in AUGMENTATIONS:
            raise ConfigError(f"config.gan.augment: unknown augmentation {name!r}; choose from "
                              f"{', '.join(AUGMENTATIONS)}")
    return names


def translate(images: jax.Array, rng: jax.Array, ratio: float = 0.125) -> jax.Array:
    """Each ``[N, H, W, C]`` image shifted by whole pixels, up to ``ratio`` of its side each way."""
    n, h, w, _ = images.shape
    max_y, max_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    key_y, key_x = jax.random.split(rng)
    dy = jax.random.randint(key_y, (n, 1, 1), -max_y, max_y + 1)
    dx = jax.random.randint(key_x, (n, 1, 1), -max_x, max_x + 1)
    rows = jnp.clip(jnp.arange(h)[None, :, None] - dy, 0, h - 1)
    cols = jnp.clip(jnp.arange(w)[None, None, :] - dx, 0, w - 1)
    return images[jnp.arange(n)[:, None, None], rows, cols]


def cutout(images: jax.Array, rng: jax.Array, ratio: float = 0.5) -> jax.Array:
    """Each ``[N, H, W, C]`` image with a ``ratio``-of-the-side square (clipped at the borders) set to 0."""
    n, h, w, _ = images.shape
    size_h, size_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    key_y, key_x = jax.random.split(rng)
    top = jax.random.randint(key_y, (n, 1, 1), 0, h) - size_h // 2
    left = jax.random.randint(key_x, (n, 1, 1), 0, w) - size_w // 2
    rows, cols = jnp.arange(h)[None, :, None], jnp.arange(w)[None, None, :]
    inside = (rows >= top) & (rows < top + size_h) & (cols >= left) & (cols < left + size_w)
    return jnp.where(inside[..., None], jnp.zeros((), images.dtype), images)


_OPS = {"translation": translate, "cutout": cutout}


def augment(images: jax.Array, rng: jax.Array, policy: tuple[str, ...]) -> jax.Array:
    """``images`` through each augmentation of ``policy`` in order (unchanged for an empty policy)."""
    for name, key in zip(policy, jax.random.split(rng, max(len(policy), 1))):
        images = _OPS[name](images, key)
    return images
