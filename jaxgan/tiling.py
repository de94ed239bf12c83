"""Running a fully convolutional upscaler over a large image in overlapping tiles, seamlessly.

Tiles of ``tile`` x ``tile`` input pixels (fewer where the image is smaller) overlap by twice ``margin``;
each tile contributes only its core, at least ``margin`` pixels from any cut, so with ``margin`` >= the
network's receptive radius (and inference-mode normalisation) the result equals the untiled one up to
float rounding, while memory is bounded by the tile size. All tiles of an image share one shape, so
one compiled function serves the whole image, ``batch`` tiles per call.
"""
from __future__ import annotations

from typing import Callable

import numpy as np


def tile_starts(size: int, tile: int, margin: int) -> list[int]:
    """Tile offsets along one side: stride ``tile - 2 * margin``, the last tile flush with the end."""
    if tile >= size:
        return [0]
    stride = tile - 2 * margin
    if stride <= 0:
        raise ValueError(f"tile {tile} must be larger than twice the overlap margin {margin}")
    return list(range(0, size - tile, stride)) + [size - tile]


def _core(start: int, tile: int, size: int, margin: int) -> tuple[int, int]:
    """The part of a tile it is trusted for: all but ``margin`` at every cut (image edges are not cuts)."""
    return (0 if start == 0 else start + margin), (size if start + tile == size else start + tile - margin)


def upscale_tiled(run: Callable[[np.ndarray], np.ndarray], image: np.ndarray, scale: int, tile: int,
                  margin: int, batch: int = 4) -> np.ndarray:
    """``run`` ([N, h, w, C] -> [N, scale*h, scale*w, C']) over ``image`` [H, W, C] in tiles."""
    height, width = image.shape[:2]
    th, tw = min(tile, height), min(tile, width)
    boxes = [(r, c) for r in tile_starts(height, th, margin) for c in tile_starts(width, tw, margin)]
    per_call = min(batch, len(boxes))
    out = None
    for first in range(0, len(boxes), per_call):
        chunk = boxes[first:first + per_call]
        tiles = np.zeros((per_call, th, tw) + image.shape[2:], image.dtype)    # fixed shape: one compile
        for i, (r, c) in enumerate(chunk):
            tiles[i] = image[r:r + th, c:c + tw]
        results = np.asarray(run(tiles))
        if out is None:
            out = np.empty((scale * height, scale * width) + results.shape[3:], results.dtype)
        for (r, c), result in zip(chunk, results):
            (r0, r1), (c0, c1) = _core(r, th, height, margin), _core(c, tw, width, margin)
            out[scale * r0:scale * r1, scale * c0:scale * c1] = \
                result[scale * (r0 - r):scale * (r1 - r), scale * (c0 - c):scale * (c1 - c)]
    return out
