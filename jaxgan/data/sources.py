"""Where examples come from: in-memory arrays (embedded sets), image folders, and TFDS.

A source declares the fields it yields (``fields``: name -> kind, ``image`` for uint8 images, else the
field's own kind such as ``label``), yields an infinite, deterministic stream of ``(positions, raw)``
batches in global order (every host sees the same stream) starting at any position, and decodes a raw
element (or, with ``batched_decode``, a whole batch of them) into ``{field: tensor}`` inside tf.data.
Array and folder sources are random access: epoch ``e`` visits a permutation seeded by ``(seed, e)``,
so resuming at a position costs nothing. `registry` names them.
"""
from __future__ import annotations

import difflib
import functools
import logging
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from jaxgan.data import images
from jaxgan.data.tf_host import as_written, tensorflow
from jaxgan.errors import DataError

log = logging.getLogger(__name__)


def epoch_order(num: int, seed: int, epoch: int) -> np.ndarray:
    """The order in which epoch ``epoch`` visits ``num`` examples: a permutation seeded by (seed, epoch)."""
    return np.random.default_rng([seed, int(epoch)]).permutation(num).astype(np.int64)


class IndexSource:
    """A random-access source of ``num`` examples."""

    num: int
    fields: dict[str, str]
    #: whether `decode` takes a whole batch of raw elements (fixed-size examples held in memory)
    batched_decode = False

    def batches(self, seed: int, start: int, size: int) -> Any:
        """``(positions, indices)`` of ``size`` consecutive stream positions at a time, from ``start`` on.

        One numpy call per batch inside a native pipeline. (Per example, the stream's own bookkeeping
        capped it near the GAN MLP's step rate; a `from_generator` stream also costs every jitted step
        ~3 ms of dispatch for as long as it exists.)"""
        tf = tensorflow()
        num = self.num
        order = functools.lru_cache(maxsize=2)(lambda epoch: epoch_order(num, seed, epoch))

        def numpy_batch(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            positions = start + int(batch) * size + np.arange(size, dtype=np.int64)
            epochs, offsets = np.divmod(positions, num)
            indices = np.empty(size, np.int64)
            for epoch in np.unique(epochs):
                here = epochs == epoch
                indices[here] = order(int(epoch))[offsets[here]]
            return positions, indices

        def batch(number: Any) -> tuple[Any, Any]:
            positions, indices = tf.numpy_function(numpy_batch, [number], [tf.int64, tf.int64], stateful=False)
            return tf.ensure_shape(positions, (size,)), tf.ensure_shape(indices, (size,))

        return tf.data.Dataset.counter(0).map(as_written(batch))


class ArraySource(IndexSource):
    """Examples held in memory as uint8 arrays (the embedded sets)."""

    batched_decode = True

    def __init__(self, arrays: dict[str, np.ndarray]):
        self._arrays = arrays
        self.num = len(next(iter(arrays.values())))
        self.fields = {k: "image" if v.dtype == np.uint8 and v.ndim == 4 else "label" for k, v in arrays.items()}
        tf = tensorflow()
        self._tensors = {k: tf.constant(v) for k, v in arrays.items()}

    def decode(self, index: Any) -> dict[str, Any]:
        tf = tensorflow()
        return {k: tf.gather(v, index) for k, v in self._tensors.items()}

    def arrays(self, limit: int) -> dict[str, np.ndarray]:
        return {k: v[:limit] for k, v in self._arrays.items()}


class ImageListSource(IndexSource):
    """Examples held in memory as uint8 images of their own sizes (``{field: [H, W, C] arrays]}``)."""

    def __init__(self, pictures: dict[str, list[np.ndarray]]):
        self._images = pictures
        self.num = len(next(iter(pictures.values())))
        self.fields = {k: "image" for k in pictures}

    def decode(self, index: Any) -> dict[str, Any]:
        tf = tensorflow()
        out = {}
        for k, listed in self._images.items():
            image = tf.numpy_function(lambda i, listed=listed: listed[int(i)], [index], tf.uint8, stateful=False)
            out[k] = tf.ensure_shape(image, (None, None, listed[0].shape[-1]))
        return out

    def arrays(self, limit: int) -> dict[str, list[np.ndarray]]:
        return {k: v[:limit] for k, v in self._images.items()}


class FolderSource(IndexSource):
    """Every readable image under a folder (recursive), decoded by PIL and resized to ``size`` (0: kept).

    ``layout``: ``single`` (one image per file -> ``image``), ``side_by_side`` (the pix2pix layout: A on
    the left half, B on the right -> ``A``, ``B``), ``two_folders`` (``root/A/...`` and ``root/B/...``
    with matching relative names -> ``A``, ``B``), ``domains`` (``root/<domain>/...`` for each of
    ``domains`` -> ``image`` and ``domain``, a one-hot float vector in the order of ``domains``), or
    ``listed`` (the image ``files`` given, each with its row of every array in ``tables``, e.g. captions).
    """

    def __init__(self, root: str, size: int, channels: int, resize: str, layout: str = "single",
                 pair_roots: tuple[Path, Path] | None = None, keys: tuple[str, ...] | None = None,
                 domains: tuple[str, ...] = (), files: list[Path] | None = None,
                 tables: dict[str, np.ndarray] | None = None):
        root_path = Path(root)
        if not root_path.is_dir():
            raise DataError(f"data folder {root!r} does not exist or is not a folder")
        tables = dict(tables or {})
        if layout == "domains":
            files, labels = [], []
            for index, name in enumerate(domains):
                found = images.find_images(root_path / name) if (root_path / name).is_dir() else []
                if not found:
                    raise DataError(f"domain {name!r} has no images in {root_path / name}; add images or "
                                    f"remove the folder")
                files += [(f,) for f in found]
                labels += [index] * len(found)
            tables["domain"] = np.eye(len(domains), dtype=np.float32)[labels]
        elif layout == "listed":
            files = [(Path(f),) for f in files or []]
        elif layout == "two_folders":
            a_root, b_root = pair_roots or (root_path / "A", root_path / "B")
            a_files = {f.relative_to(a_root): f for f in images.find_images(a_root)}
            b_files = {f.relative_to(b_root): f for f in images.find_images(b_root)}
            files = [(a_files[k], b_files[k]) for k in sorted(set(a_files) & set(b_files))]
            unmatched = len(set(a_files) ^ set(b_files))
            if unmatched:
                log.warning("%d file(s) under %s have no partner with the same name in the other folder",
                            unmatched, root)
        elif layout in ("single", "side_by_side"):
            files = [(f,) for f in images.find_images(root_path)]
        else:
            raise DataError(f"unknown folder layout {layout!r}; choose single, side_by_side or two_folders")
        dims = [[images.image_size(f) for f in item] for item in files]
        readable = np.array([None not in wh for wh in dims], bool)
        good = [item for item, ok in zip(files, readable) if ok]
        self.tables = {k: v[readable] for k, v in tables.items()}     # per-file fields (labels, captions)
        # Reported by the pipeline: unreadable files (skipped), and images smaller than ``size`` (upscaled).
        self.skipped = [str(f) for item, wh in zip(files, dims) for f, d in zip(item, wh) if d is None]
        halve = 2 if layout == "side_by_side" else 1
        self.upscaled = [str(item[0]) for item, wh in zip(files, dims)
                         if None not in wh and min(min(w // halve, h) for w, h in wh) < size]
        if not good:
            raise DataError(f"no readable images under {root!r} ({len(self.skipped)} unreadable files)")
        self.items, self.layout = [tuple(map(str, item)) for item in good], layout
        self.num, self.size, self.channels, self.resize = len(good), size, channels, resize
        self.keys = keys or (("image",) if layout in ("single", "domains", "listed") else ("A", "B"))
        self.fields = {k: "image" for k in self.keys}
        self.fields.update({k: "label" for k in self.tables})

    def _load(self, index: np.ndarray) -> tuple[np.ndarray, ...]:
        item = self.items[int(index)]
        try:
            if self.layout == "side_by_side":
                return images.load_side_by_side(item[0], self.size, self.channels)
            return tuple(images.load_image(path, self.size, self.channels, self.resize) for path in item)
        except images.READ_ERRORS as e:
            raise DataError(f"cannot read {item}: {e}") from None

    def decode(self, index: Any) -> dict[str, Any]:
        tf = tensorflow()
        side = self.size or None                        # size 0: each image at its own size
        shape = (side, side, self.channels)
        loaded = tf.numpy_function(self._load, [index], [tf.uint8] * len(self.keys), stateful=False)
        out = {k: tf.ensure_shape(v, shape) for k, v in zip(self.keys, loaded)}
        out.update({k: tf.gather(tf.constant(v), index) for k, v in self.tables.items()})
        return out

    def arrays(self, limit: int) -> dict[str, np.ndarray]:
        loaded = [self._load(np.int64(i)) for i in range(min(limit, self.num))]
        stack = np.stack if self.size else list
        out = {k: stack([item[j] for item in loaded]) for j, k in enumerate(self.keys)}
        out.update({k: v[:len(loaded)] for k, v in self.tables.items()})
        return out


class UnpairedSource:
    """Two independent sources zipped into ``{"A", "B"}``, each shuffled with its own seed."""

    def __init__(self, a: Any, b: Any):
        self.a, self.b = a, b
        self.num = max(a.num, b.num)
        self.skipped = getattr(a, "skipped", []) + getattr(b, "skipped", [])
        self.upscaled = getattr(a, "upscaled", []) + getattr(b, "upscaled", [])
        self.fields = {"A": "image", "B": "image"}
        self.batched_decode = a.batched_decode and b.batched_decode

    def batches(self, seed: int, start: int, size: int) -> Any:
        tf = tensorflow()
        zipped = tf.data.Dataset.zip(self.a.batches(seed, start, size), self.b.batches(seed + 7919, start, size))
        return zipped.map(as_written(lambda a, b: (a[0], (a[1], b[1]))))

    def decode(self, raw: Any) -> dict[str, Any]:
        return {"A": self.a.decode(raw[0])["image"], "B": self.b.decode(raw[1])["image"]}

    def arrays(self, limit: int) -> dict[str, np.ndarray]:
        a, b = self.a.arrays(limit), self.b.arrays(limit)
        n = min(len(a["image"]), len(b["image"]))
        return {"A": a["image"][:n], "B": b["image"][:n]}


class TFDSSource:
    """A TensorFlow Datasets split, read in a seeded shuffled order; images decoded after slicing.

    ``features`` maps our keys to the data set's image features (default ``{"image": "image"}``; the
    super-resolution sets use ``{"hr": "hr", "lr": "lr"}``); ``size`` 0 keeps each image's own size.
    ``attributes`` (e.g. CelebA's ``Blond_Hair``, ``Male``) adds ``domain``: those boolean attributes as
    a multi-hot float vector, in that order. ``captions`` (``texts -> {"caption", "caption_count"}``, see
    `text.caption_table`) adds the example's captions (``coco_captions``' ``captions/text``, or a
    ``caption`` / ``text`` feature) as word ids.
    """

    batched_decode = False

    def __init__(self, name: str, split: str, data_dir: str | None, size: int, resize: str,
                 download: bool, shuffle_buffer: int, features: dict[str, str] | None = None,
                 attributes: tuple[str, ...] = (),
                 captions: Callable[[list[str]], dict[str, np.ndarray]] | None = None):
        builder = tfds_builder(name, data_dir)
        if not _prepared(builder):
            if not download:
                raise DataError(
                    f"TFDS data set {name!r} is not prepared in {builder.data_dir}. Prepare it once with "
                    f"`tfds build {name} --data_dir {data_dir or '~/tensorflow_datasets'}` (or run with "
                    f"--config.data.download=True) on a machine with internet access.")
            try:
                builder.download_and_prepare()
            except Exception as e:
                raise DataError(f"could not download/prepare TFDS data set {name!r}: {e}") from None
        if split not in builder.info.splits:
            raise DataError(f"TFDS data set {name!r} has splits {sorted(builder.info.splits)}, not {split!r}")
        self.builder, self.split, self.size, self.resize = builder, split, size, resize
        self.shuffle_buffer = shuffle_buffer
        self.num = builder.info.splits[split].num_examples
        self.features = features or {"image": "image"}
        missing = sorted(set(self.features.values()) - set(builder.info.features))
        if missing:
            raise DataError(f"TFDS data set {name!r} has no feature(s) {missing}; it has "
                            f"{sorted(builder.info.features)}")
        self.has_label = "label" in builder.info.features and "image" in self.features
        self.fields = {k: "image" for k in self.features}
        if self.has_label:
            self.fields["label"] = "label"
        self.attributes = tuple(attributes)
        if self.attributes:
            known = sorted(builder.info.features["attributes"]) if "attributes" in builder.info.features else []
            unknown = [a for a in self.attributes if a not in known]
            if unknown:
                close = difflib.get_close_matches(unknown[0], known, n=3)
                hint = f" (did you mean {' or '.join(close)}?)" if close else ""
                raise DataError(f"TFDS data set {name!r} has no attribute(s) {', '.join(unknown)}{hint}; it has "
                                f"{', '.join(known) or 'no attributes'}")
            self.fields["domain"] = "label"
        self.captions, self.caption_path = captions, ()
        if captions is not None:
            self.caption_path = _caption_feature(name, builder.info.features)
            self.fields.update(caption="label", caption_count="label")

    def caption_texts(self) -> Iterator[str]:
        """Every caption of the split (the images are not decoded)."""
        import tensorflow_datasets as tfds

        path = _caption_feature(self.builder.name, self.builder.info.features)
        ds = self.builder.as_dataset(split=self.split, shuffle_files=False,
                                     decoders={f: tfds.decode.SkipDecoding() for f in self.features.values()})
        for texts in ds.map(as_written(lambda example: _texts(example, path))).as_numpy_iterator():
            yield from (t.decode("utf-8", "replace") for t in texts)

    def _raw(self) -> Any:
        import tensorflow_datasets as tfds

        ds = self.builder.as_dataset(split=self.split, shuffle_files=False,
                                     decoders={f: tfds.decode.SkipDecoding() for f in self.features.values()})
        features = dict(self.features, **({"label": "label"} if self.has_label else {}))
        attributes = self.attributes

        def pick(ex: dict[str, Any]) -> dict[str, Any]:
            out = {k: ex[f] for k, f in features.items()}
            if attributes:
                tf = tensorflow()
                out["domain"] = tf.cast(tf.stack([ex["attributes"][a] for a in attributes]), tf.float32)
            if self.captions is not None:           # word ids before batching: a fixed shape
                out["caption"], out["caption_count"] = self._encode(_texts(ex, self.caption_path))
            return out

        return ds.map(as_written(pick))

    def batches(self, seed: int, start: int, size: int) -> Any:
        raw = self._raw().repeat().shuffle(self.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        return raw.enumerate().skip(start).batch(size, drop_remainder=True)

    def decode(self, raw: Any) -> dict[str, Any]:
        tf = tensorflow()
        out = {}
        for key in self.features:
            image = tf.io.decode_image(raw[key], channels=3, expand_animations=False)
            out[key] = _tf_resize(image, self.size, self.resize) if self.size else image
        if self.has_label:
            out["label"] = tf.cast(raw["label"], tf.int32)
        if self.attributes:
            out["domain"] = raw["domain"]
        if self.captions is not None:
            out["caption"], out["caption_count"] = raw["caption"], raw["caption_count"]
        return out

    def _encode(self, texts: Any) -> tuple[Any, Any]:
        """A 1-D string tensor of captions -> (word ids [K, L], count), via ``captions``."""
        tf, table = tensorflow(), self.captions

        def encode(texts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            row = table([[t.decode("utf-8", "replace") for t in texts]])
            return row["caption"][0], row["caption_count"][0]

        ids, count = tf.numpy_function(encode, [texts], [tf.int32, tf.int32], stateful=False)
        return tf.ensure_shape(ids, table([[]])["caption"].shape[1:]), tf.ensure_shape(count, ())

    def arrays(self, limit: int) -> dict[str, np.ndarray]:
        """The first ``limit`` examples of the split, decoded (for evaluation)."""
        ds = self._raw().take(limit).map(as_written(self.decode))
        items = list(ds.as_numpy_iterator())
        stack = np.stack if self.size else list
        return {k: stack([it[k] for it in items]) for k in items[0]}


def _texts(example: dict[str, Any], path: tuple[str, ...]) -> Any:
    """An example's captions (the feature at ``path``) as a 1-D string tensor."""
    for key in path:
        example = example[key]
    return tensorflow().reshape(example, [-1])


def _caption_feature(name: str, features: Any) -> tuple[str, ...]:
    """Where a TFDS data set keeps its captions: ``captions/text`` (coco_captions), ``caption`` or ``text``."""
    if "captions" in features and "text" in getattr(features["captions"], "feature", {}):
        return ("captions", "text")
    for key in ("caption", "captions", "text", "description"):
        if key in features:
            return (key,)
    raise DataError(f"TFDS data set {name!r} has no captions (features: {', '.join(sorted(features))}); "
                    f"data.layout=captions needs e.g. coco_captions")


def tfds_builder(name: str, data_dir: str | None) -> Any:
    """The TFDS builder of ``name``; an unknown name is one line with the closest known names."""
    tensorflow()
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(name, data_dir=data_dir or None)
    except Exception as e:  # tfds raises many types for unknown / unreachable data sets
        if isinstance(e, tfds.core.registered.DatasetNotFoundError):
            known = tfds.list_builders(with_community_datasets=False)
            close = difflib.get_close_matches(name.split("/")[0].split(":")[0], known, n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise DataError(f"TFDS has no data set {name!r}{hint} (`tfds.list_builders()` lists all "
                            f"{len(known)})") from None
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise DataError(f"TFDS data set {name!r} is unavailable: {first}") from None


def _prepared(builder: Any) -> bool:
    try:
        return bool(builder.is_prepared())
    except AttributeError:
        return Path(builder.data_dir, "dataset_info.json").exists()


def _tf_resize(image: Any, size: int, mode: str) -> Any:
    """Bicubic, antialiased resize of the shorter side + centre crop (``crop``) or to a square (``stretch``)."""
    tf = tensorflow()
    if mode == "stretch":
        resized = tf.image.resize(image, (size, size), method="bicubic", antialias=True)
    else:
        shape = tf.cast(tf.shape(image)[:2], tf.float32)
        scale = size / tf.reduce_min(shape)
        new = tf.maximum(tf.cast(tf.round(shape * scale), tf.int32), size)
        resized = tf.image.resize(image, new, method="bicubic", antialias=True)
        resized = tf.image.resize_with_crop_or_pad(resized, size, size)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)
