"""Where examples come from: the source protocol, and the random-access sources (in-memory arrays, image
folders, and the pair of two of them that unpaired translation reads). TFDS is in `tfds`, prepared sets
in `prepared`.

A `Source` declares the fields it yields (``fields``: name -> ``image`` for uint8 images, else
``label``) and, for one host, an infinite, deterministic stream of batches of references (`batches`):
``(number, positions, refs)`` = the global batch's number, the stream positions of this host's slice
and what `decode` turns into one example ``{field: tensor}`` inside tf.data.

A random-access source (`IndexSource`) refers to examples by index: epoch ``e`` visits the permutation
that `tf.random.experimental.index_shuffle` draws for ``(seed, e)``, computed for any position, so a
resume starts anywhere at no cost, and the whole stream is TensorFlow ops (it can run on tf.data service
workers). An example found unreadable when read is replaced, wherever it appears, by the next readable
index (`IndexSource.find_unreadable`, called by the pipeline), so the stream stays a function of the
data alone and a resume equals an uninterrupted run.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

from jaxgan.data import decode as decoding
from jaxgan.data.augment import Window
from jaxgan.data.folders import Listing
from jaxgan.data.tf_host import as_written, tensorflow
from jaxgan.errors import DataError

log = logging.getLogger(__name__)


def read_errors() -> tuple[type[Exception], ...]:
    """The errors TensorFlow raises for a file it cannot read or decode (a missing or damaged file, or one
    PIL's fallback cannot read)."""
    tf = tensorflow()
    return (tf.errors.InvalidArgumentError, tf.errors.NotFoundError, tf.errors.DataLossError, tf.errors.UnknownError)


class Source:
    """The protocol every source follows (see the module doc); the defaults suit a source whose files are
    all readable."""

    fields: dict[str, str]
    num: int
    #: whether `decode_batch` takes a whole batch of refs (fixed-size examples held in memory)
    batched_decode: bool = False

    def __init__(self) -> None:
        self.skipped: list[str] = []       # files unreadable at start-up (skipped, reported by the pipeline)
        self.upscaled: list[str] = []      # images smaller than the size asked for (upscaled, reported)

    def batches(self, seed: int, start: int, per_step: int, offset: int, local: int) -> Any:
        """``(number, positions, refs)`` for global batches ``start``, ``start + 1``, ...: this host's
        ``local`` positions from ``offset`` within each batch of ``per_step``."""
        raise NotImplementedError

    def decode(self, ref: Any) -> dict[str, Any]:
        """One example ``{field: tensor}`` (TensorFlow ops, inside tf.data)."""
        raise NotImplementedError

    def decode_batch(self, refs: Any) -> dict[str, Any]:
        """A whole batch of examples at once (sources with `batched_decode`)."""
        raise NotImplementedError

    def decode_window(self, ref: Any, window: Window, seed: Any) -> dict[str, Any]:
        """The example with its images cut to ``window`` where this source can read just that region (its
        images then equal the whole images cut there), else the whole example."""
        return self.decode(ref)

    def find_unreadable(self, refs: np.ndarray) -> list[str]:
        """After a read error in a batch of ``refs``: the unreadable examples among them, named, and
        replaced from now on; none by default."""
        return []

    def arrays(self, limit: int) -> dict[str, Any]:
        """The first ``limit`` examples, decoded (for evaluation): a stacked array per field where sizes are
        fixed, else a list of arrays."""
        raise NotImplementedError


def counter_batches(select: Any, start: int, per_step: int, offset: int, local: int) -> Any:
    """`Source.batches` of a random-access source, from ``select(positions) -> refs``."""
    tf = tensorflow()

    def batch(number: Any) -> tuple[Any, Any, Any]:
        positions = number * per_step + offset + tf.range(local, dtype=tf.int64)
        return number, positions, select(positions)

    return tf.data.Dataset.counter(start, dtype=tf.int64).map(as_written(batch))


class IndexSource(Source):
    """A random-access source of ``num`` examples (see the module doc)."""

    def __init__(self, num: int):
        super().__init__()
        self.num = int(num)
        self.unreadable: set[int] = set()

    def indices(self, seed: int, positions: Any) -> Any:
        """The example index at each stream position (int64 tensor), readable examples only."""
        tf = tensorflow()
        epochs, offsets = positions // self.num, positions % self.num
        # the raw op: `tf.random.experimental.index_shuffle` pads a batch of [n, 2] seeds along the wrong axis
        seeds = tf.stack([tf.fill(tf.shape(positions), tf.constant(seed, tf.int64)), epochs, tf.zeros_like(epochs)], -1)
        indices = tf.raw_ops.RandomIndexShuffle(index=offsets, seed=seeds, max_index=tf.constant(self.num - 1, tf.int64),
                                                rounds=4)
        if self.unreadable:
            indices = tf.gather(tf.constant(self.replacements()), indices)
        return indices

    def replacements(self) -> np.ndarray:
        """``[num]``: each index itself, or for an unreadable one the next readable index (cyclically)."""
        if len(self.unreadable) >= self.num:
            raise DataError(f"every one of the {self.num} examples is unreadable")
        table = np.arange(self.num, dtype=np.int64)
        for index in sorted(self.unreadable):
            other = (index + 1) % self.num
            while other in self.unreadable:
                other = (other + 1) % self.num
            table[index] = other
        return table

    def batches(self, seed: int, start: int, per_step: int, offset: int, local: int) -> Any:
        return counter_batches(lambda positions: self.indices(seed, positions), start, per_step, offset, local)

    def name(self, index: int) -> str:
        """What a report calls example ``index`` (its file)."""
        return f"example {index}"

    def find_unreadable(self, refs: np.ndarray) -> list[str]:
        found = []
        for index in sorted({int(i) for i in np.ravel(refs)} - self.unreadable):
            try:
                tensorflow().nest.map_structure(lambda t: t.numpy(), self.decode(np.int64(index)))
            except read_errors():
                self.unreadable.add(index)
                found.append(self.name(index))
        return found

    def arrays(self, limit: int) -> dict[str, Any]:
        tf = tensorflow()
        count = min(limit, self.num)
        table = tf.constant(self.replacements())
        ds = tf.data.Dataset.range(count).map(as_written(lambda i: self.decode(table[i])),
                                              num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        fixed = {k: spec.shape.is_fully_defined() for k, spec in ds.element_spec.items()}
        items = list(ds.ignore_errors().as_numpy_iterator())
        if len(items) < count:
            log.warning("skipped %d unreadable example(s) of the first %d", count - len(items), count)
        if not items:
            raise DataError(f"none of the first {count} examples is readable")
        return {k: np.stack([it[k] for it in items]) if fixed[k] else [it[k] for it in items] for k in items[0]}


class ArraySource(IndexSource):
    """Examples held in memory as uint8 arrays (the embedded sets), decoded a whole batch at a time."""

    batched_decode = True

    def __init__(self, arrays: dict[str, np.ndarray]):
        super().__init__(len(next(iter(arrays.values()))))
        self._arrays = arrays
        self.fields = {k: "image" if v.dtype == np.uint8 and v.ndim == 4 else "label" for k, v in arrays.items()}
        tf = tensorflow()
        self._tensors = {k: tf.constant(v) for k, v in arrays.items()}

    def decode(self, ref: Any) -> dict[str, Any]:
        return {k: tensorflow().gather(v, ref) for k, v in self._tensors.items()}

    decode_batch = decode

    def arrays(self, limit: int) -> dict[str, np.ndarray]:
        return {k: v[:limit] for k, v in self._arrays.items()}


class ImageListSource(IndexSource):
    """Examples held in memory as uint8 images of their own sizes (``{field: [H, W, C] arrays]}``)."""

    def __init__(self, pictures: dict[str, list[np.ndarray]]):
        super().__init__(len(next(iter(pictures.values()))))
        self._images = pictures
        self.fields = {k: "image" for k in pictures}

    def decode(self, ref: Any) -> dict[str, Any]:
        tf = tensorflow()
        out = {}
        for k, listed in self._images.items():
            image = tf.numpy_function(lambda i, listed=listed: listed[int(i)], [ref], tf.uint8, stateful=False)
            out[k] = tf.ensure_shape(image, (None, None, listed[0].shape[-1]))
        return out

    def arrays(self, limit: int) -> dict[str, list[np.ndarray]]:
        return {k: v[:limit] for k, v in self._images.items()}


class FolderSource(IndexSource):
    """The examples of a folder layout's `Listing`, each file read and decoded by TensorFlow
    (`decode.decode_bytes`; PIL for what TensorFlow cannot decode alike) and resized to ``size`` (0:
    kept) with ``resize`` (``crop`` or ``stretch``; a side-by-side file's halves are stretched, as the
    pix2pix code does)."""

    def __init__(self, listing: Listing, size: int, channels: int, resize: str):
        super().__init__(len(listing.files))
        if not listing.files:
            raise DataError(f"no readable images ({len(listing.skipped)} unreadable files)")
        tf = tensorflow()
        self.listing, self.size, self.channels, self.resize = listing, size, channels, resize
        self.fields = {k: "image" for k in listing.keys}
        self.fields.update({k: "label" for k in listing.tables})
        self.skipped = list(listing.skipped)
        halve = 2 if listing.halves else 1
        small = np.min(np.minimum(listing.width // halve, listing.height), axis=1) < size
        self.upscaled = [item[0] for item, s in zip(listing.files, small) if s]
        self._paths = tf.constant([[path.encode() for path in item] for item in listing.files], tf.string)
        self._kinds = tf.constant(listing.kind.astype(np.int32))
        self._present = tuple(int(k) for k in np.unique(listing.kind))
        self._tables = {k: tf.constant(v) for k, v in listing.tables.items()}

    def name(self, index: int) -> str:
        return ", ".join(self.listing.files[index])

    def _image(self, ref: Any, j: int) -> Any:
        tf = tensorflow()
        path = self._paths[ref, j]
        return decoding.decode_bytes(tf.io.read_file(path), self._kinds[ref, j], self.channels, path, self._present)

    def decode(self, ref: Any) -> dict[str, Any]:
        tf = tensorflow()
        if self.listing.halves:
            pictures, mode = decoding.halves(self._image(ref, 0)), "stretch"
        else:
            pictures, mode = [self._image(ref, j) for j in range(len(self.listing.keys))], self.resize
        if self.size:
            pictures = [decoding.resized(p, self.size, mode) for p in pictures]
        out = dict(zip(self.listing.keys, pictures))
        out.update({k: tf.gather(v, ref) for k, v in self._tables.items()})
        return out


class UnpairedSource(Source):
    """Two independent random-access sources zipped into ``{"A", "B"}``, each shuffled with its own seed."""

    def __init__(self, a: IndexSource, b: IndexSource):
        super().__init__()
        self.a, self.b = a, b
        self.num = max(a.num, b.num)
        self.skipped, self.upscaled = a.skipped + b.skipped, a.upscaled + b.upscaled
        self.fields = {"A": "image", "B": "image"}
        self.batched_decode = a.batched_decode and b.batched_decode

    def batches(self, seed: int, start: int, per_step: int, offset: int, local: int) -> Any:
        def select(positions: Any) -> tuple[Any, Any]:
            return self.a.indices(seed, positions), self.b.indices(seed + 7919, positions)
        return counter_batches(select, start, per_step, offset, local)

    def decode(self, ref: Any) -> dict[str, Any]:
        return {"A": self.a.decode(ref[0])["image"], "B": self.b.decode(ref[1])["image"]}

    def decode_batch(self, refs: Any) -> dict[str, Any]:
        return {"A": self.a.decode_batch(refs[0])["image"], "B": self.b.decode_batch(refs[1])["image"]}

    def find_unreadable(self, refs: Any) -> list[str]:
        return self.a.find_unreadable(refs[0]) + self.b.find_unreadable(refs[1])

    def arrays(self, limit: int) -> dict[str, np.ndarray]:
        a, b = self.a.arrays(limit), self.b.arrays(limit)
        n = min(len(a["image"]), len(b["image"]))
        return {"A": a["image"][:n], "B": b["image"][:n]}
