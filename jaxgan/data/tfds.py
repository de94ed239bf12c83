"""TensorFlow Datasets splits as a source: read in a seeded shuffled order, images decoded after slicing.

Not random access: a resume at position ``p`` reads through the stream's first ``p`` records (without
decoding their images); `python -m jaxgan.prepare` turns a TFDS split into a prepared set that starts
anywhere at once.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from jaxgan.data.decode import resized
from jaxgan.data.sources import Source
from jaxgan.data.tf_host import as_written, tensorflow
from jaxgan.errors import DataError


class TFDSSource(Source):
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
        super().__init__()
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

    def ordered(self) -> Any:
        """The split's records in their stored order, images not decoded (for `prepared.prepare`)."""
        return self._raw()

    def batches(self, seed: int, start: int, per_step: int, offset: int, local: int) -> Any:
        tf = tensorflow()
        raw = self._raw().repeat().shuffle(self.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        raw = raw.enumerate().skip(start * per_step).batch(per_step, drop_remainder=True)

        def mine(positions: Any, examples: Any) -> tuple[Any, Any, Any]:
            part = tf.nest.map_structure(lambda t: t[offset:offset + local], examples)
            return positions[0] // per_step, positions[offset:offset + local], part

        return raw.map(as_written(mine))

    def decode(self, raw: Any) -> dict[str, Any]:
        tf = tensorflow()
        out = {}
        for key in self.features:
            image = tf.io.decode_image(raw[key], channels=3, expand_animations=False)
            out[key] = resized(image, self.size, self.resize) if self.size else image
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
