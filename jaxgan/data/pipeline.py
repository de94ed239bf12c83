"""The training input pipeline: a deterministic, resumable, per-host tf.data stream of numpy batches.

Every host walks the same global stream of examples (see `sources`), cut into global batches of
``batch_size * examples_per_row`` examples, and decodes and augments only its own contiguous slice: one
tf.data map call per batch (its examples decoded and augmented in one TensorFlow loop, batches in
parallel), prefetched off the training step's critical path. The global batch is therefore the same
for any number of hosts and devices, and resuming at step ``s`` restarts the stream at global batch
``s``. Augmentation randomness is a function of (seed, position).

An example whose file turns out unreadable when it is read (damaged, deleted) does not stop training:
`Batches` asks the source which example it was, the source replaces it by the next readable one from
then on, and the stream restarts at the same batch; the file is named and counted (and listed in the
workdir's ``skipped_files.txt``). With ``data.service`` the batches are made by tf.data service workers
(`service`) and put back in order here.
"""
from __future__ import annotations

import dataclasses
import logging
import queue
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import ml_collections
import numpy as np

from jaxgan.data import service
from jaxgan.data.augment import Window
from jaxgan.data.registry import has_held_out, layout_of, make_source
from jaxgan.data.sources import Source, read_errors
from jaxgan.data.tf_host import as_written, tensorflow
from jaxgan.errors import DataError


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """What a recipe reads: the fields it needs, the side sources load images at for training and for
    evaluation (0: each image at its own size), its augmentation ``(example, seed) -> example``, and,
    for images at their own size, the random crop that augmentation cuts (so a source can read just it)."""

    fields: tuple[str, ...]
    load_size: int
    eval_size: int
    augment: Callable[[dict[str, Any], Any], dict[str, Any]]
    window: Window | None = None


log = logging.getLogger(__name__)
_reported: set[tuple[str, str]] = set()       # (data path, split) whose file problems were reported


def _report_files(source: Source, config: ml_collections.ConfigDict, split: str, size: int,
                  report_dir: Path | None) -> None:
    """Warns once per split about unreadable files (naming a few; the full list goes to
    ``report_dir/skipped_files.txt``) and about images smaller than the training size (upscaled)."""
    skipped, upscaled = source.skipped, source.upscaled
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
                    report_dir: Path | None = None) -> Source:
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


class Batches(Iterator[dict[str, np.ndarray]]):
    """This host's batches in stream order, from ``build(number)`` (the tf.data stream from global batch
    ``number`` on, yielding ``(number, batch)``): after a read error it finds the unreadable examples of
    that batch through ``find_unreadable(number)``, reports them and rebuilds the stream there."""

    def __init__(self, build: Callable[[int], Any], start: int, find_unreadable: Callable[[int], list[str]],
                 report_dir: Path | None, service: str = ""):
        self._build, self._find, self._report_dir, self._service = build, find_unreadable, report_dir, service
        self.number, self.found = start, 0
        self._waiting: dict[int, dict[str, np.ndarray]] = {}
        self._stream = self._build(start).as_numpy_iterator()

    def _pull(self) -> tuple[int, dict[str, np.ndarray]]:
        """The stream's next element; from tf.data service workers within `service.BATCH_S` (tf.data would
        wait for missing workers forever), read in a daemon thread that cannot hold up the exit."""
        if not self._service:
            return next(self._stream)
        got: queue.Queue = queue.Queue()

        def pull() -> None:
            try:
                got.put((True, next(self._stream)))
            except BaseException as e:  # noqa: BLE001  handed to the caller's thread
                got.put((False, e))

        threading.Thread(target=pull, daemon=True).start()
        try:
            ok, value = got.get(timeout=service.BATCH_S)
        except queue.Empty:
            raise DataError(f"data.service={self._service}: no batch for {service.BATCH_S:.0f} s; are the "
                            f"service's workers running (`python -m jaxgan.data.service worker ...`)?") from None
        if not ok:
            raise value
        return value

    def __next__(self) -> dict[str, np.ndarray]:
        while self.number not in self._waiting:
            try:
                number, batch = self._pull()
            except read_errors() as e:
                self._recover(e)
                continue
            if int(number) >= self.number:             # service workers deliver in any order
                self._waiting[int(number)] = batch
        batch = self._waiting.pop(self.number)
        self.number += 1
        return batch

    def _recover(self, error: Exception) -> None:
        found = self._find(self.number)
        if not found:
            message = (str(getattr(error, "message", error)).strip().splitlines() or [type(error).__name__])[0]
            raise DataError(f"the input pipeline failed at step {self.number}: {message[:300]}") from None
        self.found += len(found)
        where = ""
        if self._report_dir is not None:
            with open(self._report_dir / "skipped_files.txt", "a") as f:
                f.write("\n".join(found) + "\n")
            where = f"; listed in {self._report_dir / 'skipped_files.txt'}"
        log.warning("skipped %d unreadable example(s) at step %d, replaced by the next readable one: %s (%d found "
                    "while training%s)", len(found), self.number, ", ".join(found[:3]), self.found, where)
        self._waiting.clear()
        self._stream = self._build(self.number).as_numpy_iterator()


def train_batches(config: ml_collections.ConfigDict, spec: DataSpec, examples_per_row: int, start_step: int,
                  process_index: int = 0, process_count: int = 1, report_dir: Path | None = None) -> Batches:
    """This host's share of each global training batch, from step ``start_step`` on, forever (file
    problems reported into ``report_dir``, see `_report_files` and `Batches`)."""
    tf = tensorflow()
    data = config.data
    source = _checked_source(config, spec, data.split, spec.load_size, report_dir)
    per_step = config.batch_size * examples_per_row
    local = per_step // process_count
    offset = process_index * local
    seed = int(config.seed)
    rows = local // examples_per_row
    shape = (rows, examples_per_row) if examples_per_row > 1 else (rows,)

    def example(ref: Any, position: Any) -> dict[str, Any]:
        seed_pair = tf.stack([tf.constant(seed, tf.int64), position])
        decoded = source.decode_window(ref, spec.window, seed_pair) if spec.window else source.decode(ref)
        return spec.augment(decoded, seed_pair)

    def prepare(number: Any, positions: Any, refs: Any, ref_spec: Any) -> tuple[Any, dict[str, Any]]:
        """A host's batch: every example decoded and augmented with its own seed, in one TF loop."""
        if source.batched_decode:
            decoded = source.decode_batch(refs)
            one = lambda args: spec.augment(args[0], tf.stack([tf.constant(seed, tf.int64), args[1]]))  # noqa: E731
            xs, single = (decoded, positions), ({k: tf.TensorSpec(v.shape[1:], v.dtype) for k, v in decoded.items()},)
        else:
            one = lambda args: example(*args)                  # noqa: E731
            xs, single = (refs, positions), (ref_spec,)
        signature = tf.function(one, autograph=False).get_concrete_function(
            single + (tf.TensorSpec((), tf.int64),)).structured_outputs
        examples = tf.map_fn(one, xs, parallel_iterations=1,
                             fn_output_signature={k: tf.TensorSpec.from_tensor(v) for k, v in signature.items()})
        floats = {k: _to_float(tf, v, data.channels) if source.fields[k] == "image" else v for k, v in examples.items()}
        return number, {k: tf.reshape(v, tf.concat([shape, tf.shape(v)[1:]], 0)) for k, v in floats.items()}

    def build(number: int) -> Any:
        ds = source.batches(seed, number, per_step, offset, local)
        ref_spec = tf.nest.map_structure(lambda s: tf.TensorSpec(s.shape[1:], s.dtype), ds.element_spec[2])
        ds = ds.map(as_written(lambda n, p, r: prepare(n, p, r, ref_spec)), num_parallel_calls=tf.data.AUTOTUNE,
                    deterministic=True)
        options = tf.data.Options()
        options.deterministic = True
        ds = ds.with_options(options).prefetch(tf.data.AUTOTUNE)
        if data.get("service"):
            ds = service.distribute(ds, data.service)
        return ds

    def find_unreadable(number: int) -> list[str]:
        refs = next(source.batches(seed, number, per_step, offset, local).take(1).as_numpy_iterator())[2]
        return source.find_unreadable(refs)

    return Batches(build, start_step, find_unreadable, report_dir, data.get("service", ""))


def eval_fields(config: ml_collections.ConfigDict, spec: DataSpec) -> tuple[str, ...] | None:
    """The fields of the held-out split's examples, or None where there is no held-out data (no evaluation)."""
    if not has_held_out(config.data):
        return None
    try:
        return tuple(_checked_source(config, spec, config.data.eval_split, spec.eval_size).fields)
    except DataError:
        return None


def eval_arrays(config: ml_collections.ConfigDict, spec: DataSpec, split: str, limit: int = 2000
                ) -> dict[str, Any] | None:
    """Up to ``limit`` real examples of ``split``, or None where none exist: images as float arrays in
    [-1, 1] (lists of arrays when sizes differ, e.g. whole held-out images), other fields in their own dtype."""
    data = config.data
    if not has_held_out(data):
        return None                      # e.g. a plain folder: no held-out split, and no evaluation
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
