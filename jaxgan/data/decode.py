"""Image files decoded and resized inside tf.data, by TensorFlow's own kernels (no GIL, no Python).

A file's *kind* is read from its header when a folder is scanned (`kind_of`): ``jpeg`` (8-bit grey or RGB
JPEG), ``png`` (8-bit grey or RGB PNG without transparency) or ``pil`` (everything else: other formats,
palettes, alpha, 16-bit, CMYK), which PIL decodes through `images.load_image`'s conversions inside a
``tf.numpy_function``. The TensorFlow kinds give the same pixels as PIL: JPEGs with the accurate integer
IDCT (PIL's default), RGB turned grey with PIL's own integer formula, grey turned RGB by copying.

Resizing (`resized`) is TensorFlow's antialiased bicubic (Keys' kernel, a = -0.5, widened by the scale
factor) in float, rounded once. PIL's BICUBIC is the same kernel, computed in fixed point with a rounding
between its horizontal and vertical passes, so the two differ by a few levels of 255 on a small share of
the pixels (`tests/test_prepared.py` bounds it: at most 4, 0.3 on average); the shorter side and the
centre crop are chosen as `images.resize` chooses them.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from jaxgan.data import images
from jaxgan.data.tf_host import tensorflow

KINDS = ("jpeg", "png", "pil")
JPEG, PNG, PIL = range(3)


def kind_of(format_name: str | None, mode: str, info: dict[str, Any]) -> int:
    """The decoder a file takes, from its header: `JPEG`, `PNG`, or `PIL` for anything else."""
    if format_name == "JPEG" and mode in ("L", "RGB"):
        return JPEG
    if format_name == "PNG" and mode in ("L", "RGB") and "transparency" not in info:
        return PNG
    return PIL


def to_channels(image: Any, channels: int) -> Any:
    """uint8 ``[H, W, 1|3]`` (the count known only at run time) -> ``channels`` channels: grey copied to
    RGB, or RGB to grey with PIL's ``convert("L")`` formula (ITU-R 601-2 luma in 16-bit fixed point), so
    the values equal PIL's."""
    tf = tensorflow()

    def luma() -> Any:
        rgb = tf.cast(image, tf.int32)
        grey = (rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) // 65536
        return tf.cast(grey, tf.uint8)[..., None]

    have = tf.shape(image)[-1]
    if channels == 3:
        out = tf.cond(have == 1, lambda: tf.tile(image, [1, 1, 3]), lambda: image)
    else:
        out = tf.cond(have == 3, luma, lambda: image)
    return tf.ensure_shape(out, (None, None, channels))


def decode_bytes(contents: Any, kind: Any, channels: int, path: Any, kinds: tuple[int, ...]) -> Any:
    """uint8 ``[H, W, channels]`` of one file's ``contents``, by its ``kind`` (a scalar tensor). Only the
    decoders in ``kinds`` (the kinds the data set has) are built into the graph, so a folder of JPEGs and
    PNGs alone runs without Python (and can run on tf.data service workers)."""
    tf = tensorflow()

    def jpeg() -> Any:
        image = tf.io.decode_jpeg(contents, dct_method="INTEGER_ACCURATE")
        return to_channels(image, channels)

    def png() -> Any:
        return to_channels(tf.io.decode_png(contents), channels)

    def pil() -> Any:
        def load(name: np.ndarray) -> np.ndarray:
            return images.load_image(np.asarray(name).item().decode(), 0, channels)
        return tf.numpy_function(load, [path], tf.uint8, stateful=False)

    branches = {JPEG: jpeg, PNG: png, PIL: pil}
    present = sorted(set(kinds))
    if len(present) == 1:
        image = branches[present[0]]()
    else:                               # branch i of the switch decodes kind present[i]
        branch = tf.constant([present.index(k) if k in present else 0 for k in range(len(KINDS))], tf.int32)
        image = tf.switch_case(branch[kind], [branches[k] for k in present])
    return tf.ensure_shape(image, (None, None, channels))


def resized(image: Any, size: int, mode: str) -> Any:
    """uint8 ``image`` at ``size`` square: ``crop`` scales the shorter side to ``size`` and takes the
    centre, ``stretch`` scales to the square (see the module doc for how this compares with PIL)."""
    tf = tensorflow()
    if mode == "stretch":
        out = tf.image.resize(image, (size, size), method="bicubic", antialias=True)
    else:
        shape = tf.cast(tf.shape(image)[:2], tf.float32)
        scale = size / tf.reduce_min(shape)
        new = tf.maximum(tf.cast(tf.round(shape * scale), tf.int32), size)
        out = tf.image.resize(image, new, method="bicubic", antialias=True)
        top, left = (new[0] - size) // 2, (new[1] - size) // 2
        out = out[top:top + size, left:left + size]
    return tf.ensure_shape(tf.cast(tf.clip_by_value(tf.round(out), 0, 255), tf.uint8), (size, size, image.shape[-1]))


def halves(image: Any) -> tuple[Any, Any]:
    """The pix2pix side-by-side layout: (left half, right half) of ``image`` (an odd last column dropped)."""
    half = tensorflow().shape(image)[1] // 2
    return image[:, :half], image[:, half:2 * half]
