"""Super-resolution data: high-resolution images at their own size, cut into aligned LR/HR training crops.

``config.data.layout`` says what a source holds:

- ``hr``: high-resolution images only; the training step makes each LR input by antialiased bicubic
  downsampling (`jaxgan.recipes.srgan.downscale`).
- ``lr_hr``: given pairs: a folder's ``HR/`` and ``LR/`` sub-folders with matching file names, or a
  TFDS set's ``hr`` and ``lr`` features (e.g. ``div2k/bicubic_x4``).

``config.data.source``: ``photos`` (scikit-image's natural photos, split by file, ``hr`` only),
``folder`` (``data.path``, or ``data.path/<split>`` where it exists) or ``tfds`` (``hr``, else ``image``).
A training example is a random ``image_size`` HR crop and, for given pairs, the aligned LR crop, under
one of the 8 flips/rotations; held-out examples are whole images.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import ml_collections
import numpy as np
from PIL import Image

from jaxgan.data import embedded
from jaxgan.data.sources import FolderSource, IndexSource, TFDSSource
from jaxgan.data.tf_host import tensorflow
from jaxgan.errors import DataError

LAYOUTS = ("hr", "lr_hr")
log = logging.getLogger(__name__)


class PhotoSource(IndexSource):
    """scikit-image's natural photos of ``split`` (RGB, each at its own size)."""

    def __init__(self, split: str):
        self.photos = [embedded.rgb_photo(name) for name in embedded.super_resolution_photos(split)]
        self.num = len(self.photos)

    def decode(self, index: Any) -> dict[str, Any]:
        tf = tensorflow()
        image = tf.numpy_function(lambda i: self.photos[int(i)], [index], tf.uint8, stateful=False)
        return {"hr": tf.ensure_shape(image, (None, None, 3))}

    def arrays(self, limit: int) -> dict[str, list[np.ndarray]]:
        return {"hr": self.photos[:limit]}


def make_hr_source(data: ml_collections.ConfigDict, split: str, scale: int, hr_size: int = 0) -> Any:
    """The source of HR images (and given LR images) that ``data`` names, for ``split``; given pairs
    must be ``scale`` apart and (for training crops) at least ``hr_size`` HR pixels on each side."""
    pairs = data.layout == "lr_hr"
    if data.source == "photos":
        if pairs:
            raise DataError("data.source=photos has HR images only; use data.layout=hr")
        return PhotoSource(embedded.check_split(split))
    if data.source == "folder":
        if not data.path:
            raise DataError("data.source=folder needs --config.data.path=/path/to/hr_images")
        root = Path(data.path)
        if (root / split).is_dir():
            root = root / split
        elif split != data.split:
            raise DataError(f"no held-out folder {root / split}")
        if pairs:
            lr_root, hr_root = root / "LR", root / "HR"
            if not (lr_root.is_dir() and hr_root.is_dir()):
                raise DataError(f"data.layout=lr_hr needs {hr_root} and {lr_root} with matching file names")
            source = FolderSource(str(root), 0, 3, "crop", "two_folders", (lr_root, hr_root), keys=("lr", "hr"))
            return _keep_usable_pairs(source, scale, hr_size)
        return FolderSource(str(root), 0, 3, "crop", keys=("hr",))
    if data.source == "tfds":
        if not data.name:
            raise DataError("data.source=tfds needs --config.data.name (e.g. div2k/bicubic_x4)")
        import tensorflow_datasets as tfds

        tensorflow()
        try:
            features = tfds.builder(data.name, data_dir=data.data_dir or None).info.features
        except Exception as e:  # tfds raises many types for unknown / unreachable data sets
            raise DataError(f"TFDS data set {data.name!r} is unknown or unavailable: {e}") from None
        wanted = {"lr": "lr", "hr": "hr"} if pairs else {"hr": "hr" if "hr" in features else "image"}
        return TFDSSource(data.name, split, data.data_dir, 0, "crop", data.download, data.shuffle_buffer,
                          features=wanted)
    raise DataError(f"data.source {data.source!r} has no super-resolution layout; choose photos, folder or tfds")


def _keep_usable_pairs(source: FolderSource, scale: int, hr_size: int) -> FolderSource:
    """Drops (with a warning) LR/HR file pairs whose sizes are not ``scale`` apart or are too small."""
    def usable(lr_path: str, hr_path: str) -> bool:
        with Image.open(lr_path) as lr, Image.open(hr_path) as hr:
            (lw, lh), (hw, hh) = lr.size, hr.size
        return hw >= scale * lw and hh >= scale * lh and hw < scale * (lw + 1) and hh < scale * (lh + 1) \
            and min(hw, hh) >= hr_size
    kept = [item for item in source.items if usable(*item)]
    if len(kept) < len(source.items):
        log.warning("skipped %d LR/HR pair(s) whose sizes are not x%d apart or smaller than %d HR pixels",
                    len(source.items) - len(kept), scale, hr_size)
    if not kept:
        raise DataError(f"no usable x{scale} LR/HR pairs (of at least {hr_size} HR pixels) in the data folder")
    source.items, source.num = kept, len(kept)
    return source


def random_crop_pair(tf: Any, example: dict[str, Any], hr_size: int, scale: int, augment: bool,
                     seed: Any) -> dict[str, Any]:
    """A random ``hr_size`` HR crop (and the aligned LR crop when ``lr`` is given), then, with
    ``augment``, one of the 8 flips/rotations, the same for both. Too-small HR-only images are enlarged."""
    hr, lr = example["hr"], example.get("lr")
    if lr is None:                    # crop anywhere; an image smaller than the crop is enlarged first
        shape = tf.shape(hr)[:2]
        short = tf.reduce_min(shape)
        grow = tf.cast(tf.math.ceil(hr_size * tf.cast(shape, tf.float32) / tf.cast(short, tf.float32)), tf.int32)
        hr = tf.cond(short < hr_size,
                     lambda: tf.cast(tf.clip_by_value(tf.round(tf.image.resize(hr, grow, "bicubic", antialias=True)),
                                                      0, 255), tf.uint8),
                     lambda: hr)
        unit, grid, crop_on = 1, hr_size, hr
    else:                             # crop on the LR grid so the two crops stay aligned
        unit, grid, crop_on = scale, hr_size // scale, lr
    room = tf.shape(crop_on)[:2] - grid + 1
    top = tf.random.stateless_uniform((), seed=seed, maxval=room[0], dtype=tf.int32)
    left = tf.random.stateless_uniform((), seed=seed + 1, maxval=room[1], dtype=tf.int32)
    out = {"hr": hr[top * unit:top * unit + hr_size, left * unit:left * unit + hr_size]}
    if lr is not None:
        out["lr"] = lr[top:top + grid, left:left + grid]
    if augment:
        turns = tf.random.stateless_uniform((), seed=seed + 2, maxval=4, dtype=tf.int32)
        flip = tf.random.stateless_uniform((), seed=seed + 3) < 0.5
        for k in out:
            rotated = tf.image.rot90(out[k], turns)
            out[k] = tf.cond(flip, lambda r=rotated: tf.image.flip_left_right(r), lambda r=rotated: r)
    sides = {"hr": hr_size, "lr": hr_size // scale}
    return {k: tf.ensure_shape(v, (sides[k], sides[k], 3)) for k, v in out.items()}
