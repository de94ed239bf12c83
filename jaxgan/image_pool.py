"""The history pool of generated images that CycleGAN's discriminators train on (Shrivastava et al. 2017).

Host-side state, as the user asked: numpy arrays, checkpointed with the run. ``query`` returns, for each
new fake, either the fake itself or (once the pool is full, with probability 1/2) a random older fake,
which the new one replaces. The randomness is a seeded ``numpy`` generator the caller passes, derived
from (seed, step), so a resumed run draws exactly what an uninterrupted one would.
"""
from __future__ import annotations

import numpy as np


class ImagePool:
    """Up to ``size`` past fakes; ``size == 0`` disables the pool (fakes pass straight through)."""

    def __init__(self, size: int):
        self.size = size
        self.images: np.ndarray | None = None       # [n <= size, H, W, C]

    def __len__(self) -> int:
        return 0 if self.images is None else len(self.images)

    def query(self, fakes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The batch the discriminator sees in place of ``fakes`` [B, H, W, C]."""
        if self.size == 0:
            return fakes
        out = np.array(fakes, copy=True)
        for i, fake in enumerate(fakes):
            if len(self) < self.size:
                self.images = fake[None].copy() if self.images is None else np.concatenate([self.images, fake[None]])
            elif rng.random() < 0.5:
                j = int(rng.integers(self.size))
                out[i] = self.images[j]
                self.images[j] = fake
        return out

    def state(self) -> np.ndarray:
        return np.zeros((0,), np.float32) if self.images is None else self.images

    def load(self, images: np.ndarray) -> None:
        self.images = None if images.size == 0 else np.array(images, copy=True)
