"""The training input pipeline: a deterministic, resumable, per-host tf.data stream of numpy batches.

Every host walks the same global stream of examples (see `sources`), cuts it into global batches of
``batch_size * examples_per_row`` examples, and decodes and augments only its own contiguous slice, in
parallel, prefetched off the training step's critical path. The global batch is therefore the same for
any number of hosts and devices, and resuming at step ``s`` restarts the stream at position
``s * batch_size * examples_per_row``. Augmentation randomness is a function of (seed, position).
"""
from __future__ import annotations

import logging
from typing import Any, Iterator

import ml_collections
import numpy as np

from jaxgan.data import super_resolution
from jaxgan.data.sources import make_source
from jaxgan.errors import DataError
from jaxgan.data.tf_host import tensorflow


IMAGE_KEYS = ("image", "A", "B", "hr", "lr")


def _source(config: ml_collections.ConfigDict, split: str, size: int, train: bool) -> Any:
    """Super-resolution layouts read images at their own size; everything else at ``size``."""
    if config.data.get("layout") in super_resolution.LAYOUTS:
        return super_resolution.make_hr_source(config.data, split, config.scale, config.image_size if train else 0)
    return make_source(config.data, split, size)


def _to_float(tf: Any, image: Any, channels: int) -> Any:
    """uint8 image with any channel count -> float32 in [-1, 1] with ``channels`` channels."""
    have = image.shape[-1]
    if have == 4:
        image, have = image[..., :3], 3
    if have == 1 and channels == 3:
        image = tf.image.grayscale_to_rgb(image)
    elif have == 3 and channels == 1:
        image = tf.cast(tf.round(tf.image.rgb_to_grayscale(tf.cast(image, tf.float32))), tf.uint8)
    return tf.cast(image, tf.float32) / 127.5 - 1.0


def _to_model_input(tf: Any, example: dict[str, Any], channels: int) -> dict[str, Any]:
    return {k: _to_float(tf, v, channels) if k in IMAGE_KEYS else v for k, v in example.items()}


def _jitter(tf: Any, example: dict[str, Any], size: int, flip: bool, seed: Any) -> dict[str, Any]:
    """The same random crop to ``size`` (and flip) for every image of an example (pix2pix's jitter)."""
    keys = [k for k in IMAGE_KEYS if k in example]
    load = example[keys[0]].shape[0]
    out = dict(example)
    if load > size:
        offsets = tf.random.stateless_uniform((2,), seed=seed, maxval=load - size + 1, dtype=tf.int32)
        for k in keys:
            out[k] = out[k][offsets[0]:offsets[0] + size, offsets[1]:offsets[1] + size]
    if flip:
        do_flip = tf.random.stateless_uniform((), seed=seed + 1) < 0.5
        for k in keys:
            out[k] = tf.cond(do_flip, lambda k=k: tf.image.flip_left_right(out[k]), lambda k=k: out[k])
    return out


def train_batches(config: ml_collections.ConfigDict, examples_per_row: int, start_step: int,
                  process_index: int = 0, process_count: int = 1) -> Iterator[dict[str, np.ndarray]]:
    """This host's share of each global training batch, from step ``start_step`` on, forever."""
    tf = tensorflow()
    data = config.data
    load_size = max(data.get("load_size", 0) or config.image_size, config.image_size)
    source = _source(config, data.split, load_size, train=True)
    per_step = config.batch_size * examples_per_row
    local = per_step // process_count
    seed = int(config.seed)

    ds = source.stream(seed, start_step * per_step)
    ds = ds.batch(per_step, drop_remainder=True)
    ds = ds.map(lambda pos, raw: (pos[process_index * local:(process_index + 1) * local],
                                  tf.nest.map_structure(lambda t: t[process_index * local:(process_index + 1) * local], raw)))
    ds = ds.unbatch()

    def prepare(position: Any, raw: Any) -> dict[str, Any]:
        example = source.decode(raw)
        example_seed = tf.stack([tf.cast(seed, tf.int64), position])
        if "hr" in example:
            example = super_resolution.random_crop_pair(tf, example, config.image_size, config.scale,
                                                        data.random_flip, example_seed)
        else:
            example = _jitter(tf, example, config.image_size, data.random_flip, example_seed)
        return _to_model_input(tf, example, data.channels)

    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if examples_per_row > 1:
        ds = ds.batch(examples_per_row, drop_remainder=True)
    ds = ds.batch(local // examples_per_row, drop_remainder=True)
    options = tf.data.Options()
    options.deterministic = True
    ds = ds.with_options(options).prefetch(tf.data.AUTOTUNE)
    return ds.as_numpy_iterator()


def eval_arrays(config: ml_collections.ConfigDict, split: str, limit: int = 2000
                ) -> dict[str, np.ndarray | list[np.ndarray]] | None:
    """Up to ``limit`` real examples of ``split`` as float arrays in [-1, 1], or None where none exist.

    Images of different sizes (super-resolution's whole held-out images) come as lists of arrays."""
    data = config.data
    if data.source == "folder" and data.get("layout", "single") == "single":
        return None                      # a plain folder has no held-out split
    tf = tensorflow()
    try:
        source = _source(config, split, config.image_size, train=False)
    except DataError as e:
        logging.getLogger(__name__).warning("no evaluation data for split %r: %s", split, e)
        return None
    raw = source.arrays(limit)

    def convert(key: str, value: Any) -> Any:
        if isinstance(value, list):
            return [convert(key, v) for v in value]
        return _to_float(tf, tf.constant(value), data.channels).numpy() if key in IMAGE_KEYS \
            else np.asarray(value, np.int32)

    return {k: convert(k, v) for k, v in raw.items()}
