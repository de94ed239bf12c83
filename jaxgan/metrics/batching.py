"""Running a jitted function over many images in batches of one shape (one compilation)."""
from __future__ import annotations

from typing import Callable

import numpy as np


def in_batches(fn: Callable[..., np.ndarray], *arrays: np.ndarray, batch: int = 64) -> np.ndarray:
    """``fn(*chunks)`` over consecutive ``batch``-row chunks of ``arrays`` (equal lengths), concatenated;
    the last chunk is padded with copies of its last row and the padding's outputs dropped, so ``fn``
    sees one shape."""
    n, out = len(arrays[0]), []
    for i in range(0, n, batch):
        chunk = [a[i:i + batch] for a in arrays]
        short = batch - len(chunk[0])
        if short:
            chunk = [np.concatenate([c, np.repeat(c[-1:], short, axis=0)]) for c in chunk]
        out.append(np.asarray(fn(*chunk))[:batch - short])
    return np.concatenate(out)
