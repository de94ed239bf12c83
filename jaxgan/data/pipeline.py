"""The training input pipeline: a deterministic, resumable, per-host tf.data stream of numpy batches.

Every host walks the same global stream of examples (see `sources`), cuts it into global batches of
``batch_size * examples_per_row`` examples, and decodes and augments only its own contiguous slice, in
parallel, prefetched off the training step's critical path. The global batch is therefore the same for
any number of hosts and devices, and resuming at step ``s`` restarts the stream at position
``s * batch_size * examples_per_row``. Augmentation randomness is a function of (seed, position).
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, Callable, Iterator

import ml_collections
import numpy as np

from jaxgan.data.registry import layout_of, make_source
from jaxgan.data.tf_host import as_written, tensorflow
from jaxgan.errors import DataError


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """What a recipe reads: the fields it needs, the side sources load images at for training and for
    evaluation (0: each image at its own size), and its augmentation ``(example, seed) -> example``."""

    fields: tuple[str, ...]
    load_size: int
    eval_size: int
    augment: Callable[[dict[str, Any], Any], dict[str, Any]]


log = logging.getLogger(__name__)
_reported: set[tuple[str, str]] = set()       # (data path, split) whose file problems were reported


def _report_files(source: Any, config: ml_collections.ConfigDict, split: str, size: int,
                  report_dir: Path | None) -> None:
    """Warns once per split about unreadable files (naming a few; the full list goes to
    ``report_dir/skipped_files.txt``) and about images smaller than the training size (upscaled)."""
    skipped, upscaled = getattr(source, "skipped", []), getattr(source, "upscaled", [])
    if (config.data.path, split) in _reported or not (skipped or upscaled):
        return
    _reported.add((config.data.path, split))
    if skipped:
        where = ""
        if report_dir is not None:
            (report_dir / "skipped_files.txt").write_text("\n".join(skipped) + "\n")
            where = f"; full list in {report_dir / 'skipped_files.txt'}"
        more = ", ..." if len(skipped) > 3 else ""
        log.warning("skipped %d unreadable image file(s) of split %r: %s%s%s", len(skipped), split,
                    ", ".join(skipped[:3]), more, where)
    if upscaled:
        log.warning("%d image(s) of split %r are smaller than %d px and are upscaled (blurry), e.g. %s; "
                    "a smaller image_size avoids it", len(upscaled), split, size, upscaled[0])


def _checked_source(config: ml_collections.ConfigDict, spec: DataSpec, split: str, size: int,
                    report_dir: Path | None = None) -> Any:
    source = make_source(config, split, size)
    _report_files(source, config, split, size, report_dir)
    missing = [f for f in spec.fields if f not in source.fields]
    if missing:
        raise DataError(f"data.source={config.data.source} (layout {layout_of(config.data)}) yields "
                        f"{', '.join(source.fields)}; this recipe needs {', '.join(spec.fields)}: choose a source "
                        f"or data.layout that provides them")
    return source


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


def train_batches(config: ml_collections.ConfigDict, spec: DataSpec, examples_per_row: int, start_step: int,
                  process_index: int = 0, process_count: int = 1, report_dir: Path | None = None
                  ) -> Iterator[dict[str, np.ndarray]]:
    """This host's share of each global training batch, from step ``start_step`` on, forever (file
    problems reported into ``report_dir``, see `_report_files`)."""
    tf = tensorflow()
    data = config.data
    source = _checked_source(config, spec, data.split, spec.load_size, report_dir)
    per_step = config.batch_size * examples_per_row
    local = per_step // process_count
    seed = int(config.seed)

    ds = source.batches(seed, start_step * per_step, per_step)
    ds = ds.map(as_written(lambda pos, raw: (pos[process_index * local:(process_index + 1) * local],
                                             tf.nest.map_structure(lambda t: t[process_index * local:(process_index + 1) * local], raw))))

    def floats(example: dict[str, Any]) -> dict[str, Any]:
        return {k: _to_float(tf, v, data.channels) if source.fields[k] == "image" else v for k, v in example.items()}

    def prepare(position: Any, raw: Any) -> dict[str, Any]:
        return floats(spec.augment(source.decode(raw), tf.stack([tf.cast(seed, tf.int64), position])))

    def prepare_all(positions: Any, raw: Any) -> dict[str, Any]:
        """`prepare` for a whole slice of fixed-size examples: one decode, each example augmented with its
        own seed (the same values as `prepare`, with per-batch instead of per-example tf.data overhead)."""
        seeds = tf.stack([tf.fill(tf.shape(positions), tf.cast(seed, tf.int64)), positions], axis=1)
        decoded = source.decode(raw)
        one = ({k: tf.TensorSpec(v.shape[1:], v.dtype) for k, v in decoded.items()}, tf.TensorSpec((2,), tf.int64))
        augmented = tf.function(spec.augment, autograph=False).get_concrete_function(*one).structured_outputs
        examples = tf.map_fn(lambda args: spec.augment(*args), (decoded, seeds),
                             fn_output_signature={k: tf.TensorSpec.from_tensor(v) for k, v in augmented.items()})
        rows = local // examples_per_row
        shape = (rows, examples_per_row) if examples_per_row > 1 else (rows,)
        return {k: tf.reshape(v, tf.concat([shape, tf.shape(v)[1:]], 0)) for k, v in floats(examples).items()}

    if source.batched_decode:
        ds = ds.map(as_written(prepare_all), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    else:
        ds = ds.unbatch().map(as_written(prepare), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if examples_per_row > 1:
            ds = ds.batch(examples_per_row, drop_remainder=True)
        ds = ds.batch(local // examples_per_row, drop_remainder=True)
    options = tf.data.Options()
    options.deterministic = True
    ds = ds.with_options(options).prefetch(tf.data.AUTOTUNE)
    return ds.as_numpy_iterator()


def eval_arrays(config: ml_collections.ConfigDict, spec: DataSpec, split: str, limit: int = 2000
                ) -> dict[str, Any] | None:
    """Up to ``limit`` real examples of ``split``, or None where none exist: images as float arrays in
    [-1, 1] (lists of arrays when sizes differ, e.g. whole held-out images), other fields in their own dtype."""
    data = config.data
    if data.source == "folder" and layout_of(data) == "single":
        return None                      # a plain folder has no held-out split
    tf = tensorflow()
    try:
        source = _checked_source(config, spec, split, spec.eval_size)
    except DataError as e:
        log.warning("no evaluation data for split %r: %s", split, e)
        return None

    def convert(key: str, value: Any) -> Any:
        if isinstance(value, list):
            return [convert(key, v) for v in value]
        if source.fields[key] == "image":
            return _to_float(tf, tf.constant(value), data.channels).numpy()
        return np.asarray(value)

    return {k: convert(k, v) for k, v in source.arrays(limit).items()}
