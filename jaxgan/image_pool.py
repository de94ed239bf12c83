"""The history pool of generated images that CycleGAN's discriminators train on (Shrivastava et al. 2017).

Host-side state, as the user asked: a fixed-size numpy buffer and a fill count, held and checkpointed by
the trainer (each host its own). `query` returns, for each new fake, either the fake itself or (once the
pool is full, with probability 1/2) a random older fake, which the new one replaces. The randomness is
a seeded ``numpy`` generator the caller derives from (seed, step, host), so a resumed run draws exactly
what an uninterrupted one would.
"""
from __future__ import annotations

import numpy as np

Pool = dict[str, np.ndarray]


def empty_pool(size: int, image_shape: tuple[int, ...]) -> Pool:
    """Room for ``size`` images of ``image_shape`` (``size`` 0 disables the pool)."""
    return {"images": np.zeros((size, *image_shape), np.float32), "count": np.zeros((), np.int64)}


def query(pool: Pool, fakes: np.ndarray, rng: np.random.Generator) -> tuple[Pool, np.ndarray]:
    """``(updated pool, the batch the discriminator sees in place of fakes [B, H, W, C])``."""
    size = len(pool["images"])
    if size == 0:
        return pool, fakes
    images, count = pool["images"].copy(), int(pool["count"])
    out = np.array(fakes, copy=True)
    for i, fake in enumerate(fakes):
        if count < size:
            images[count] = fake
            count += 1
        elif rng.random() < 0.5:
            j = int(rng.integers(size))
            out[i] = images[j]
            images[j] = fake
    return {"images": images, "count": np.asarray(count, np.int64)}, out
