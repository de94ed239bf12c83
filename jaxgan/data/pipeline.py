"""The training input pipeline: a deterministic, resumable, per-host tf.data stream of numpy batches.

Every host walks the same global stream of examples (see `sources`), cuts it into global batches of
``batch_size * examples_per_row`` examples, and decodes and augments only its own contiguous slice, in
parallel, prefetched off the training step's critical path. The global batch is therefore the same for
any number of hosts and devices, and resuming at step ``s`` restarts the stream at position
``s * batch_size * examples_per_row``. Augmentation randomness is a function of (seed, position).
"""
from __future__ import annotations

from typing import Any, Iterator

import ml_collections
import numpy as np

from jaxgan.data.sources import make_source
from jaxgan.data.tf_host import tensorflow


def _to_model_input(tf: Any, example: dict[str, Any], channels: int) -> dict[str, Any]:
    """uint8 image with any channel count -> float32 in [-1, 1] with ``channels`` channels."""
    image = example["image"]
    have = image.shape[-1]
    if have == 4:
        image = image[..., :3]
        have = 3
    if have == 1 and channels == 3:
        image = tf.image.grayscale_to_rgb(image)
    elif have == 3 and channels == 1:
        image = tf.cast(tf.round(tf.image.rgb_to_grayscale(tf.cast(image, tf.float32))), tf.uint8)
    out = dict(example, image=tf.cast(image, tf.float32) / 127.5 - 1.0)
    return out


def train_batches(config: ml_collections.ConfigDict, examples_per_row: int, start_step: int,
                  process_index: int = 0, process_count: int = 1) -> Iterator[dict[str, np.ndarray]]:
    """This host's share of each global training batch, from step ``start_step`` on, forever."""
    tf = tensorflow()
    data = config.data
    source = make_source(data, data.split, config.image_size)
    per_step = config.batch_size * examples_per_row
    local = per_step // process_count
    seed = int(config.seed)

    ds = source.stream(seed, start_step * per_step)
    ds = ds.batch(per_step, drop_remainder=True)
    ds = ds.map(lambda pos, raw: (pos[process_index * local:(process_index + 1) * local],
                                  tf.nest.map_structure(lambda t: t[process_index * local:(process_index + 1) * local], raw)))
    ds = ds.unbatch()

    def prepare(position: Any, raw: Any) -> dict[str, Any]:
        example = _to_model_input(tf, source.decode(raw), data.channels)
        if data.random_flip:
            flip = tf.random.stateless_uniform((), seed=tf.stack([tf.cast(seed, tf.int64), position])) < 0.5
            example["image"] = tf.cond(flip, lambda: tf.image.flip_left_right(example["image"]),
                                       lambda: example["image"])
        return example

    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if examples_per_row > 1:
        ds = ds.batch(examples_per_row, drop_remainder=True)
    ds = ds.batch(local // examples_per_row, drop_remainder=True)
    options = tf.data.Options()
    options.deterministic = True
    ds = ds.with_options(options).prefetch(tf.data.AUTOTUNE)
    return ds.as_numpy_iterator()


def eval_arrays(config: ml_collections.ConfigDict, split: str, limit: int = 2000
                ) -> dict[str, np.ndarray] | None:
    """Up to ``limit`` real examples of ``split`` as float arrays in [-1, 1], or None where none exist."""
    data = config.data
    if data.source == "folder":
        return None
    tf = tensorflow()
    source = make_source(data, split, config.image_size)
    raw = source.arrays(limit)
    out = _to_model_input(tf, {"image": tf.constant(raw["image"])}, data.channels)
    result = {"image": out["image"].numpy()}
    if "label" in raw:
        result["label"] = np.asarray(raw["label"], np.int32)
    return result
