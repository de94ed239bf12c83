"""Training-time augmentations a recipe chooses (run inside tf.data on the host, TF imported lazily).

Each takes one decoded example ``{field: uint8 image or other value}`` and a stateless seed (a function
of the run's seed and the example's stream position, so resume is exact) and returns the example.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from jaxgan.data.tf_host import tensorflow


@dataclasses.dataclass(frozen=True)
class Window:
    """The random crop an augmentation cuts from images at their own size, shared by every image field of
    an example: ``side`` pixels of field ``grid``'s image (each field of ``scales`` at that many times
    its pixels), its top and left offsets drawn with the example's seed plus ``seeds``. A recipe declares
    it (`pipeline.DataSpec.window`) so that a source can read just that region (a prepared set's tile)."""

    grid: str
    side: int
    seeds: tuple[int, int]
    scales: tuple[tuple[str, int], ...]

    def offsets(self, height: Any, width: Any, seed: Any) -> tuple[Any, Any]:
        """``(top, left)`` of the window in an image of ``height`` x ``width`` grid pixels, at least
        ``side`` each."""
        tf = tensorflow()
        top = tf.random.stateless_uniform((), seed=seed + self.seeds[0], maxval=height - self.side + 1, dtype=tf.int32)
        left = tf.random.stateless_uniform((), seed=seed + self.seeds[1], maxval=width - self.side + 1, dtype=tf.int32)
        return top, left


def enlarged_to(image: Any, size: int) -> Any:
    """``image`` (uint8, any size) scaled up, antialiased bicubic, so that its shorter side is at least
    ``size``; unchanged when it already is."""
    tf = tensorflow()
    shape = tf.shape(image)[:2]
    short = tf.reduce_min(shape)
    grow = tf.cast(tf.math.ceil(size * tf.cast(shape, tf.float32) / tf.cast(short, tf.float32)), tf.int32)
    return tf.cond(short < size,
                   lambda: tf.cast(tf.clip_by_value(tf.round(tf.image.resize(image, grow, "bicubic", antialias=True)),
                                                    0, 255), tf.uint8),
                   lambda: image)


def crop_window(image_fields: tuple[str, ...], size: int) -> Window:
    """`crop_and_flip`'s crop of images at their own size."""
    return Window(image_fields[0], size, (0, 2), tuple((k, 1) for k in image_fields))


def crop_and_flip(example: dict[str, Any], seed: Any, *, image_fields: tuple[str, ...], size: int,
                  flip: bool) -> dict[str, Any]:
    """The same random crop to ``size`` (and horizontal flip) for every image of an example: pix2pix's
    jitter (load at ``load_size``, crop ``size``), or, for images at their own size, a crop anywhere
    (`crop_window`; an image smaller than the crop is enlarged first)."""
    tf = tensorflow()
    out = dict(example)
    load = example[image_fields[0]].shape[0]
    if load is None:                                     # images at their own size
        for k in image_fields:
            out[k] = enlarged_to(out[k], size)
        shape = tf.shape(out[image_fields[0]])
        top, left = crop_window(image_fields, size).offsets(shape[0], shape[1], seed)
        for k in image_fields:
            out[k] = tf.ensure_shape(out[k][top:top + size, left:left + size], (size, size, None))
    elif load > size:
        offsets = tf.random.stateless_uniform((2,), seed=seed, maxval=load - size + 1, dtype=tf.int32)
        for k in image_fields:
            out[k] = tf.ensure_shape(out[k][offsets[0]:offsets[0] + size, offsets[1]:offsets[1] + size],
                                     (size, size, None))
    if flip:
        do_flip = tf.random.stateless_uniform((), seed=seed + 1) < 0.5
        for k in image_fields:
            out[k] = tf.cond(do_flip, lambda k=k: tf.image.flip_left_right(out[k]), lambda k=k: out[k])
    return out


def sr_window(hr_size: int, scale: int, paired: bool) -> Window:
    """`aligned_sr_crop`'s crop: on the HR image, or (given ``lr`` images) on the LR grid."""
    if paired:
        return Window("lr", hr_size // scale, (0, 1), (("lr", 1), ("hr", scale)))
    return Window("hr", hr_size, (0, 1), (("hr", 1),))


def aligned_sr_crop(example: dict[str, Any], seed: Any, *, hr_size: int, scale: int, augment: bool
                    ) -> dict[str, Any]:
    """A random ``hr_size`` HR crop (`sr_window`; and the aligned LR crop when ``lr`` is given), then,
    with ``augment``, one of the 8 flips/rotations, the same for both. Too-small HR-only images are
    enlarged."""
    tf = tensorflow()
    hr, lr = example["hr"], example.get("lr")
    if lr is None:                    # crop anywhere; an image smaller than the crop is enlarged first
        hr = enlarged_to(hr, hr_size)
        unit, grid, crop_on = 1, hr_size, hr
    else:                             # crop on the LR grid so the two crops stay aligned
        unit, grid, crop_on = scale, hr_size // scale, lr
    shape = tf.shape(crop_on)
    top, left = sr_window(hr_size, scale, lr is not None).offsets(shape[0], shape[1], seed)
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
