"""Prepared data sets: a source's examples decoded once, at the size training reads them, and written into
record shards with an index, so training reads any example by its index without decoding a file.

`python -m jaxgan.prepare` writes one (`prepare`); ``--config.data.source=prepared
--config.data.path=OUT`` trains on it (`PreparedSource`). What is on disk::

    OUT/manifest.json             the source's data config and recipe, the layout, and per entry its
                                  count, fields, encoding, tiles, skipped examples and every shard's
                                  size and SHA-256 (`verify` checks them)
    OUT/<entry>/records-NNNNN.bin records back to back, about `SHARD_BYTES` a shard
    OUT/<entry>/index.npz         each record's shard, offset and length; each example's first record per
                                  image field (and, for tiled images, its size and tile grid); label fields

An entry is one split at one size (`entry_name`): ``train-64``, ``test-64``, ``train-own`` for images at
their own size; an unpaired set's two sides are ``...-A`` and ``...-B``. An image at a fixed size is one
record of raw uint8 pixels (or PNG, ``--encoding png``). An image at its own size is cut into tiles of
``tile`` pixels overlapping by the recipe's random crop (as BasicSR's sub-images, but overlapping so that
every crop of the whole image lies inside one tile): a training crop reads one tile and gets exactly the
pixels the whole image has there, so a prepared set gives the same batches as the folder it came from;
whole images (evaluation) are stitched back from their tiles.

A shard that is missing or of the wrong size at start-up makes its examples unreadable (replaced, as an
unreadable file is, and reported); a record that fails to decode is found when read (see `pipeline`).
"""
from __future__ import annotations

import datetime
import hashlib
import io
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import ml_collections
import numpy as np
from PIL import Image

from jaxgan.data.augment import Window
from jaxgan.data.sources import IndexSource, Source, UnpairedSource
from jaxgan.data.tf_host import as_written, tensorflow
from jaxgan.errors import DataError

log = logging.getLogger(__name__)
FORMAT, VERSION = "jaxgan-prepared", 1
#: records are grouped into shards of about this many bytes. A read takes a whole shard, so its cost
#: grows with the shard (64x64 RGB records: ~15,000 / 11,000 / 6,000 a second on one core from shards
#: of 16 / 64 / 256 KiB, benchmarks/RESULTS.md), while fewer shards are fewer files (200,000 such
#: images: 40,000 files at 64 KiB)
SHARD_BYTES = 64 * 1024
#: the default tile side in grid pixels, as a multiple of the crop (the tiles then hold (k / (k - 1))^2 of
#: the image's pixels: 1.78x at 4)
TILE_CROPS = 4
ENCODINGS = ("raw", "png")
_manifests: dict[str, dict[str, Any]] = {}


def entry_name(split: str, size: int, part: str = "") -> str:
    """``train-64``, ``test-own`` (images at their own size), ``train-256-A`` (one side of an unpaired set)."""
    return f"{split}-{size or 'own'}" + (f"-{part}" if part else "")


def read_manifest(root: str | Path) -> dict[str, Any]:
    """The manifest of the prepared set at ``root`` (read once per process), or a `DataError`."""
    root = str(Path(root).resolve())
    if root not in _manifests:
        path = Path(root) / "manifest.json"
        try:
            manifest = json.loads(path.read_text())
        except FileNotFoundError:
            raise DataError(f"{root} is not a prepared data set (no manifest.json); make one with "
                            f"`python -m jaxgan.prepare`") from None
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read {path}: {e}") from None
        if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
            raise DataError(f"{path} is not a {FORMAT} v{VERSION} manifest; prepare the data set again")
        _manifests[root] = manifest
    return _manifests[root]


# ------------------------------------------------------------------------------------------ tiles
def tile_grid(length: int, tile: int, stride: int) -> int:
    """How many tiles of ``tile`` at ``stride`` cover ``length`` (the last one is moved back to end at
    the edge)."""
    if length <= tile:
        return 1
    return -(-(length - tile) // stride) + 1


def tile_origin(index: int, count: int, length: int, tile: int, stride: int) -> int:
    """Where tile ``index`` of ``count`` starts: at ``index * stride``, the last one ending at the edge."""
    return max(length - tile, 0) if index == count - 1 else index * stride


# ---------------------------------------------------------------------------------------- writing
class _Shards:
    """Records appended to shards of about `SHARD_BYTES` under ``folder``, each shard's SHA-256 kept."""

    def __init__(self, folder: Path, target: int):
        self.folder, self.target = folder, target
        self.shard, self.offset, self.length = [], [], []
        self.files: list[dict[str, Any]] = []
        self._file, self._hash, self._size = None, None, 0

    def add(self, data: bytes) -> int:
        if self._file is None or (self._size and self._size + len(data) > self.target):
            self._close_shard()
            name = f"records-{len(self.files):05d}.bin"
            self._file, self._hash, self._size = open(self.folder / name, "wb"), hashlib.sha256(), 0
            self.files.append({"file": name})
        self._file.write(data)
        self._hash.update(data)
        self.shard.append(len(self.files) - 1)
        self.offset.append(self._size)
        self.length.append(len(data))
        self._size += len(data)
        return len(self.length) - 1

    def _close_shard(self) -> None:
        if self._file is not None:
            self._file.close()
            self.files[-1].update(bytes=self._size, sha256=self._hash.hexdigest())
            self._file = None

    def close(self) -> list[dict[str, Any]]:
        self._close_shard()
        return self.files


def _encode(image: np.ndarray, encoding: str) -> bytes:
    if encoding == "raw":
        return np.ascontiguousarray(image).tobytes()
    out = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def examples_in_order(source: Source) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """``(index, decoded example)`` of every example of ``source`` in index order, decoded in parallel;
    unreadable ones are left out (their indices missing)."""
    tf = tensorflow()
    if isinstance(source, IndexSource):
        ds = tf.data.Dataset.range(source.num).map(as_written(lambda i: (i, source.decode(i))),
                                                   num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    else:                                        # a sequential source (TFDS): its records in order
        ds = source.ordered().enumerate().map(as_written(lambda i, raw: (i, source.decode(raw))),
                                              num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    for index, example in ds.ignore_errors().as_numpy_iterator():
        yield int(index), example


def write_entry(source: Source, folder: Path, window: Window | None, encoding: str, tile: int,
                progress: Any = None) -> dict[str, Any]:
    """Writes every readable example of ``source`` under ``folder``; returns the entry's manifest. Images at
    their own size (``window`` set) are cut into tiles of ``tile`` grid pixels overlapping by the crop."""
    folder.mkdir(parents=True)
    shards = _Shards(folder, SHARD_BYTES)
    images = [k for k, kind in source.fields.items() if kind == "image"]
    first: dict[str, list[int]] = {k: [] for k in images}
    geometry: dict[str, list[tuple[int, int, int, int]]] = {k: [] for k in images}     # height, width, rows, cols
    labels: dict[str, list[np.ndarray]] = {k: [] for k, kind in source.fields.items() if kind == "label"}
    kept, channels, fixed = [], {}, {}
    scales = dict(window.scales) if window else {}
    stride = tile - window.side if window else 0
    for index, example in examples_in_order(source):
        kept.append(index)
        if window:
            gh, gw = example[window.grid].shape[:2]
            rows, cols = tile_grid(gh, tile, stride), tile_grid(gw, tile, stride)
            th, tw = min(tile, gh), min(tile, gw)
        for k in images:
            image = example[k]
            channels[k] = int(image.shape[-1])
            if not window:
                fixed[k] = int(image.shape[0])
                first[k].append(shards.add(_encode(image, encoding)))
                continue
            s = scales.get(k, 1)
            ids = [shards.add(_encode(image[s * tile_origin(r, rows, gh, th, stride):][:s * th,
                                            s * tile_origin(c, cols, gw, tw, stride):][:, :s * tw], encoding))
                   for r in range(rows) for c in range(cols)]
            first[k].append(ids[0])
            geometry[k].append((image.shape[0], image.shape[1], rows, cols))
        for k in labels:
            labels[k].append(example[k])
        if progress is not None:
            progress.update(1)
    if not kept:
        raise DataError(f"none of the {source.num} examples is readable")
    files = shards.close()
    arrays = {"record_shard": np.asarray(shards.shard, np.int32), "record_offset": np.asarray(shards.offset, np.int64),
              "record_length": np.asarray(shards.length, np.int64)}
    for k in images:
        arrays[f"first_{k}"] = np.asarray(first[k], np.int64)
        if window:
            arrays[f"geometry_{k}"] = np.asarray(geometry[k], np.int64)
    for k, values in labels.items():
        arrays[f"label_{k}"] = np.stack(values)
    np.savez(folder / "index.npz", **arrays)
    skipped = ([source.name(i) for i in sorted(set(range(source.num)) - set(kept))]
               if isinstance(source, IndexSource) else [])
    fields = {k: {"kind": "image", "channels": channels[k], "size": fixed.get(k, 0), "encoding": encoding}
              for k in images}
    fields.update({k: {"kind": "label", "dtype": str(arrays[f"label_{k}"].dtype),
                       "shape": list(arrays[f"label_{k}"].shape[1:])} for k in labels})
    tiles = {"grid": window.grid, "tile": tile, "overlap": window.side, "scales": scales} if window else None
    return {"num": len(kept), "fields": fields, "tiles": tiles, "shards": files,
            "skipped": skipped[:1000], "skipped_count": len(skipped)}


def prepare(config: ml_collections.ConfigDict, out: Path, entries: list[tuple[str, int, Source, Window | None]],
            layout: str, encoding: str = "raw", tile: int = 0, progress: Any = None) -> dict[str, Any]:
    """Writes the prepared set ``out`` from ``entries`` = ``(split, size, source, window)``, atomically
    (into ``out.partial`` first, renamed when complete); returns its manifest."""
    if encoding not in ENCODINGS:
        raise DataError(f"unknown encoding {encoding!r}; choose {' or '.join(ENCODINGS)}")
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    manifest: dict[str, Any] = {
        "format": FORMAT, "version": VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "recipe": config.recipe, "image_size": int(config.image_size), "scale": int(config.get("scale", 1)),
        "layout": layout, "data": json.loads(config.data.to_json_best_effort()), "entries": {}}
    for split, size, source, window in entries:
        parts = [("A", source.a), ("B", source.b)] if isinstance(source, UnpairedSource) else [("", source)]
        for part, sub in parts:
            name = entry_name(split, size, part)
            side = tile or TILE_CROPS * (window.side if window else 0)
            if window and side <= window.side:
                raise DataError(f"--tile {side} must be larger than the {window.side}-pixel crop it overlaps by")
            entry = write_entry(sub, partial / name, window, encoding, side, progress)
            manifest["entries"][name] = dict(entry, split=split, size=size, part=part)
            if entry["skipped_count"]:
                log.warning("skipped %d unreadable example(s) of %s: %s", entry["skipped_count"], name,
                            ", ".join(entry["skipped"][:3]))
    (partial / "manifest.json").write_text(json.dumps(manifest, indent=1))
    if out.exists():
        shutil.rmtree(out)
    os.replace(partial, out)
    _manifests.pop(str(out.resolve()), None)
    return manifest


def verify(root: str | Path) -> list[str]:
    """The shards of the prepared set at ``root`` whose size or SHA-256 differs from its manifest."""
    manifest, bad = read_manifest(root), []
    for name, entry in manifest["entries"].items():
        for shard in entry["shards"]:
            path = Path(root) / name / shard["file"]
            digest = hashlib.sha256()
            try:
                with open(path, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        digest.update(block)
            except OSError:
                bad.append(f"{path} (missing)")
                continue
            if digest.hexdigest() != shard["sha256"]:
                bad.append(f"{path} (checksum differs)")
    return bad


# ---------------------------------------------------------------------------------------- reading
class PreparedSource(IndexSource):
    """One entry of a prepared set (see the module doc), read by example index."""

    def __init__(self, root: Path, name: str):
        manifest = read_manifest(root)
        entry = manifest["entries"][name]
        super().__init__(entry["num"])
        tf = tensorflow()
        self.root, self.entry_name, self.entry = Path(root), name, entry
        self.fields = {k: f["kind"] for k, f in entry["fields"].items()}
        self.skipped = list(entry.get("skipped", []))
        with np.load(self.root / name / "index.npz") as index:
            arrays = {k: index[k] for k in index.files}
        self._shard = arrays["record_shard"]
        self._records = {k: tf.constant(arrays[f"record_{k}"]) for k in ("shard", "offset", "length")}
        self._first = {k: tf.constant(arrays[f"first_{k}"]) for k in self._images()}
        self._geometry = {k: tf.constant(arrays[f"geometry_{k}"]) for k in self._images() if entry["tiles"]}
        self._labels = {k: tf.constant(arrays[f"label_{k}"]) for k, kind in self.fields.items() if kind == "label"}
        self._paths = tf.constant([str(self.root / name / s["file"]) for s in entry["shards"]])
        self._check_shards(arrays)

    def _images(self) -> list[str]:
        return [k for k, kind in self.fields.items() if kind == "image"]

    def _check_shards(self, arrays: dict[str, np.ndarray]) -> None:
        """Examples with a record in a missing or wrongly sized shard become unreadable (reported)."""
        bad = set()
        for number, shard in enumerate(self.entry["shards"]):
            path = self.root / self.entry_name / shard["file"]
            if not path.is_file() or path.stat().st_size != shard["bytes"]:
                bad.add(number)
        if not bad:
            return
        damaged = np.isin(self._shard, sorted(bad))
        ends = {k: np.append(arrays[f"first_{k}"][1:], len(self._shard)) for k in self._images()}
        for k in self._images():
            for i, (start, end) in enumerate(zip(arrays[f"first_{k}"], ends[k])):
                if damaged[start:end].any():
                    self.unreadable.add(i)
        self.skipped += [f"{self.root / self.entry_name} (shard {self.entry['shards'][b]['file']} missing or damaged)"
                         for b in sorted(bad)]

    def name(self, index: int) -> str:
        return f"example {index} of {self.root}/{self.entry_name}"

    def _record(self, k: str, record: Any, shape: Any) -> Any:
        """Record ``record`` (an image of field ``k``) decoded to uint8 of ``shape``."""
        tf = tensorflow()
        field = self.entry["fields"][k]
        data = tf.io.read_file(self._paths[self._records["shard"][record]])
        data = tf.strings.substr(data, self._records["offset"][record], self._records["length"][record])
        if field["encoding"] == "png":
            image = tf.io.decode_png(data, channels=field["channels"])
        else:
            image = tf.reshape(tf.io.decode_raw(data, tf.uint8), shape)
        return tf.ensure_shape(image, (None, None, field["channels"]))

    def _fixed(self, k: str, ref: Any) -> Any:
        field = self.entry["fields"][k]
        shape = (field["size"], field["size"], field["channels"])
        return tensorflow().ensure_shape(self._record(k, self._first[k][ref], shape), shape)

    def _tile_shape(self, k: str, ref: Any) -> tuple[Any, Any, Any, Any, Any]:
        """``(scale, tile height, tile width, rows, cols)`` of field ``k``'s tiles for example ``ref`` (grid pixels)."""
        tiles = self.entry["tiles"]
        grid = self._geometry[tiles["grid"]][ref]
        rows, cols = grid[2], grid[3]
        th, tw = tensorflow().minimum(grid[0], tiles["tile"]), tensorflow().minimum(grid[1], tiles["tile"])
        return int(tiles["scales"].get(k, 1)), th, tw, rows, cols

    def _tile(self, k: str, ref: Any, r: Any, c: Any) -> Any:
        s, th, tw, rows, cols = self._tile_shape(k, ref)
        shape = tensorflow().stack([s * th, s * tw, tensorflow().constant(self.entry["fields"][k]["channels"], th.dtype)])
        return self._record(k, self._first[k][ref] + r * cols + c, shape)

    def _whole(self, k: str, ref: Any) -> Any:
        """Field ``k``'s whole image, stitched from its tiles (each tile contributes the part up to the
        next tile's origin; the last the rest)."""
        tf = tensorflow()
        tiles = self.entry["tiles"]
        stride = tiles["tile"] - tiles["overlap"]
        s, th, tw, rows, cols = self._tile_shape(k, ref)
        grid = self._geometry[tiles["grid"]][ref]

        def cut(index: Any, count: Any, length: Any, side: Any) -> tuple[Any, Any]:
            last = tf.equal(index, count - 1)
            start = tf.where(last, index * stride - tf.maximum(length - side, 0), 0)
            end = tf.where(last, side, stride)
            return s * start, s * end

        def row(r: Any) -> Any:
            y0, y1 = cut(r, rows, grid[0], th)
            pieces = tf.TensorArray(tf.uint8, size=0, dynamic_size=True, infer_shape=False)
            def add(c: Any, pieces: Any) -> tuple[Any, Any]:
                x0, x1 = cut(c, cols, grid[1], tw)
                piece = self._tile(k, ref, r, c)[y0:y1, x0:x1]
                return c + 1, pieces.write(tf.cast(c, tf.int32), tf.transpose(piece, [1, 0, 2]))
            _, pieces = tf.while_loop(lambda c, _: c < cols, add, (tf.constant(0, tf.int64), pieces))
            return tf.transpose(pieces.concat(), [1, 0, 2])

        strips = tf.TensorArray(tf.uint8, size=0, dynamic_size=True, infer_shape=False)
        _, strips = tf.while_loop(lambda r, _: r < rows, lambda r, a: (r + 1, a.write(tf.cast(r, tf.int32), row(r))),
                                  (tf.constant(0, tf.int64), strips))
        return tf.ensure_shape(strips.concat(), (None, None, self.entry["fields"][k]["channels"]))

    def decode(self, ref: Any) -> dict[str, Any]:
        tf = tensorflow()
        read = self._whole if self.entry["tiles"] else self._fixed
        out = {k: read(k, ref) for k in self._images()}
        out.update({k: tf.gather(v, ref) for k, v in self._labels.items()})
        return out

    def decode_window(self, ref: Any, window: Window, seed: Any) -> dict[str, Any]:
        """The window's region from the one tile that holds it (whole images where smaller than the window)."""
        tiles = self.entry["tiles"]
        if not tiles:
            return self.decode(ref)
        if window.side > tiles["overlap"] or window.grid != tiles["grid"]:
            raise DataError(f"{self.root} was prepared for random crops of up to {tiles['overlap']} pixels of "
                            f"{tiles['grid']}; this run crops {window.side} of {window.grid}: prepare it again for "
                            f"this config")
        tf = tensorflow()
        stride = tiles["tile"] - tiles["overlap"]
        grid = self._geometry[window.grid][ref]

        def cropped() -> dict[str, Any]:
            top, left = window.offsets(tf.cast(grid[0], tf.int32), tf.cast(grid[1], tf.int32), seed)
            top, left = tf.cast(top, tf.int64), tf.cast(left, tf.int64)
            s0, th, tw, rows, cols = self._tile_shape(window.grid, ref)
            r, c = tf.minimum(top // stride, rows - 1), tf.minimum(left // stride, cols - 1)
            oy = tf.where(tf.equal(r, rows - 1), tf.maximum(grid[0] - th, 0), r * stride)
            ox = tf.where(tf.equal(c, cols - 1), tf.maximum(grid[1] - tw, 0), c * stride)
            out = {}
            for k, s in window.scales:
                y, x = s * (top - oy), s * (left - ox)
                out[k] = self._tile(k, ref, r, c)[y:y + s * window.side, x:x + s * window.side]
            return out

        fits = tf.minimum(grid[0], grid[1]) >= window.side
        images = tf.cond(fits, cropped, lambda: {k: self._whole(k, ref) for k, _ in window.scales})
        out = {k: tf.ensure_shape(v, (None, None, self.entry["fields"][k]["channels"])) for k, v in images.items()}
        out.update({k: tf.gather(v, ref) for k, v in self._labels.items()})
        return out


def source(config: ml_collections.ConfigDict, split: str, size: int, layout: str) -> Source:
    """The entry of the prepared set ``config.data.path`` for ``split`` at ``size``, checked against the
    run's config (what shapes its examples must be what it was prepared with)."""
    data = config.data
    if not data.path:
        raise DataError("data.source=prepared needs --config.data.path=/path/to/prepared/set")
    root = Path(data.path)
    manifest = read_manifest(root)
    recorded = manifest["data"]
    if layout != manifest["layout"]:
        raise DataError(f"{root} was prepared with data.layout={manifest['layout']}, not {layout}")
    checks = {"data.channels": (recorded.get("channels"), data.channels),
              "data.max_words": (recorded.get("max_words"), data.get("max_words")),
              "data.max_captions": (recorded.get("max_captions"), data.get("max_captions"))}
    if size:
        checks["data.resize"] = (recorded.get("resize"), data.resize)
    if layout == "lr_hr":
        checks["scale"] = (manifest["scale"], config.get("scale"))
    for field, (then, now) in checks.items():
        if then != now:
            raise DataError(f"{root} was prepared with {field}={then!r}; this run has {now!r}: set it back, or "
                            f"prepare the data set again for this config")
    parts = ("A", "B") if layout == "unpaired" else ("",)
    names = [entry_name(split, size, part) for part in parts]
    missing = [n for n in names if n not in manifest["entries"]]
    if missing:
        have = ", ".join(sorted(manifest["entries"]))
        raise DataError(f"{root} has no entry {missing[0]} (split {split!r} at {size or 'their own'} px; it has "
                        f"{have}): prepare it for this config (e.g. this image_size / load_size)")
    sources = [PreparedSource(root, n) for n in names]
    return UnpairedSource(*sources) if layout == "unpaired" else sources[0]


def recorded(config: ml_collections.ConfigDict, field: str) -> tuple[str, ...]:
    """What the prepared set recorded for ``data.<field>`` (domain names, vocabulary, attributes)."""
    return tuple(read_manifest(config.data.path)["data"].get(field) or ())


def layout(data: ml_collections.ConfigDict) -> str:
    """The layout a prepared set was made with (the default of ``data.layout`` for it)."""
    if not data.path:
        raise DataError("data.source=prepared needs --config.data.path=/path/to/prepared/set")
    return read_manifest(data.path)["layout"]


def has_split(data: ml_collections.ConfigDict) -> bool:
    """Whether the prepared set holds ``data.eval_split``."""
    return any(e["split"] == data.eval_split for e in read_manifest(data.path)["entries"].values())
