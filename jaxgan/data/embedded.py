"""Default data sets built from data shipped inside installed packages: no network, ever.

- ``digits``: scikit-learn's 1,797 handwritten 8x8 digits (labels 0-9), upscaled bicubically.
- ``faces``: the 100 face crops (25x25 grayscale) of scikit-image's LFW subset, upscaled.

Each is split deterministically into ``train`` and ``test`` (held out for evaluation).
"""
from __future__ import annotations

import numpy as np
from PIL import Image

EMBEDDED = ("digits", "faces")
_HELD_OUT = {"digits": 297, "faces": 20}


def _upscale(images: np.ndarray, size: int) -> np.ndarray:
    """float [N, h, w] in [0, 1] -> uint8 [N, size, size, 1]."""
    out = np.empty((len(images), size, size, 1), np.uint8)
    for i, im in enumerate(images):
        pil = Image.fromarray(np.clip(im * 255.0, 0, 255).astype(np.uint8))
        out[i, ..., 0] = np.asarray(pil.resize((size, size), Image.BICUBIC))
    return out


def load_embedded(name: str, split: str, size: int) -> dict[str, np.ndarray]:
    """``{"image": uint8 [N, size, size, 1], "label": int32 [N]}`` for ``split`` in train | test."""
    if name == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        images, labels = digits.images / 16.0, digits.target.astype(np.int32)
    elif name == "faces":
        from skimage.data import lfw_subset

        images = lfw_subset()[:100]                         # the first 100 are faces, the rest not
        labels = np.zeros(len(images), np.int32)
    else:
        raise ValueError(f"unknown embedded data set {name!r}; choose one of {', '.join(EMBEDDED)}")
    order = np.random.default_rng(0).permutation(len(images))
    held = _HELD_OUT[name]
    if split == "train":
        idx = order[held:]
    elif split == "test":
        idx = order[:held]
    else:
        raise ValueError(f"embedded data set {name!r} has splits train and test, not {split!r}")
    out = {"image": _upscale(images[idx], size), "label": labels[idx]}
    if name == "faces":
        del out["label"]
    return out
