"""Image folders: what each layout reads (one function per layout), from headers kept in an index cache.

`scan` lists every image under a folder (recursive, sorted, hidden files ignored) with its size and
decoder kind read from the file's header alone (no pixel is decoded at start-up). The headers are kept
in an index cache (`data.index_cache`: ``auto`` = ``$JAXGAN_CACHE_DIR/folders`` or
``~/.cache/jaxgan/folders``), one file per folder, so a resume, an evaluation or another run on the same
folder reads only the listing and each file's size and modification time; a changed or new file has its
header read again. A file whose header cannot be read is skipped and counted; one whose pixels turn
out unreadable is found when it is read (see `pipeline`).

A layout function returns a `Listing`: one tuple of files per example (one file per image field, or one
file holding both halves), the image fields it fills, its per-example tables (labels, captions) and the
files it skipped.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import logging
import os
from pathlib import Path
import ml_collections
import numpy as np
from PIL import Image

from jaxgan.data import decode
from jaxgan.data.images import IMAGE_EXTENSIONS, READ_ERRORS
from jaxgan.errors import DataError

log = logging.getLogger(__name__)
#: the index cache's file format (a new one ignores older caches)
INDEX_VERSION = 1
_scanned: dict[tuple[str, str], "Headers"] = {}      # (folder, cache) -> its headers, once per process


@dataclasses.dataclass(frozen=True)
class Headers:
    """What the headers of a folder's images say: width, height and decoder kind per file (-1: unreadable)."""

    files: list[str]                   # absolute paths, sorted by their parts
    width: np.ndarray
    height: np.ndarray
    kind: np.ndarray

    def lookup(self) -> dict[str, int]:
        return {f: i for i, f in enumerate(self.files)}


@dataclasses.dataclass
class Listing:
    """The examples a layout reads: ``files[i]`` holds example i's file per image field of ``keys``
    (or, with ``halves``, one file whose left and right halves are the two fields), each with its
    ``width``/``height``/``kind`` from the header; ``tables`` holds per-example label fields."""

    files: list[tuple[str, ...]]
    keys: tuple[str, ...]
    width: np.ndarray                  # [examples, files per example]
    height: np.ndarray
    kind: np.ndarray
    tables: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    halves: bool = False
    skipped: list[str] = dataclasses.field(default_factory=list)

    def keep(self, keep: np.ndarray) -> "Listing":
        """The examples where ``keep`` is True."""
        return dataclasses.replace(self, files=[f for f, k in zip(self.files, keep) if k], width=self.width[keep],
                                   height=self.height[keep], kind=self.kind[keep],
                                   tables={k: v[keep] for k, v in self.tables.items()})


def cache_dir(setting: str) -> Path | None:
    """Where folder indexes are kept: ``auto`` = ``$JAXGAN_CACHE_DIR/folders`` (else ``~/.cache/jaxgan``),
    ``""`` nowhere, anything else that folder."""
    if setting == "auto":
        root = os.environ.get("JAXGAN_CACHE_DIR") or str(Path.home() / ".cache" / "jaxgan")
        return Path(root) / "folders"
    return Path(setting).expanduser() if setting else None


def _walk(root: str) -> list[tuple[str, int, int]]:
    """``(path, bytes, mtime_ns)`` of every image file under ``root`` (recursive, sorted by path parts, no
    hidden files). Plain strings: `pathlib` objects cost ~20 us each, seconds for 200,000 files."""
    found: list[tuple[str, int, int]] = []

    def visit(folder: str) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                visit(entry.path)
            elif os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS:
                try:
                    stat = entry.stat()
                except OSError:
                    continue
                found.append((entry.path, stat.st_size, stat.st_mtime_ns))

    visit(root)
    return found


def _header(path: str) -> tuple[int, int, int]:
    """``(width, height, kind)`` from the file's header (nothing decoded), or ``(-1, -1, -1)``."""
    try:
        with Image.open(path) as image:
            return image.width, image.height, decode.kind_of(image.format, image.mode, image.info)
    except READ_ERRORS:
        return -1, -1, -1


def scan(root: Path, cache_setting: str = "auto") -> Headers:
    """Every image under ``root`` with its header, read only for files the index cache does not hold
    unchanged (same size and modification time); the cache is rewritten when anything changed."""
    root = os.path.abspath(root)
    kept = _scanned.get((root, cache_setting))
    if kept is not None:
        return kept
    walked = _walk(root)
    cache = cache_dir(cache_setting)
    cache_file = cache / f"{hashlib.sha256(root.encode()).hexdigest()[:24]}.npz" if cache else None
    known = _read_cache(cache_file, root)
    headers = np.full((len(walked), 3), -1, np.int64)
    missing = []
    prefix = len(root) + 1
    for i, (path, size, mtime) in enumerate(walked):
        entry = known.get(path[prefix:])
        if entry is not None and entry[0] == size and entry[1] == mtime:
            headers[i] = entry[2:]
        else:
            missing.append(i)
    if missing:
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, 4 * (os.cpu_count() or 1))) as pool:
            for i, header in zip(missing, pool.map(_header, (walked[i][0] for i in missing))):
                headers[i] = header
    if cache_file is not None and (missing or len(known) != len(walked)):
        _write_cache(cache_file, root, walked, headers)
    result = Headers([w[0] for w in walked], headers[:, 0], headers[:, 1], headers[:, 2])
    _scanned[(root, cache_setting)] = result
    return result


def _read_cache(path: Path | None, root: str) -> dict[str, tuple[int, ...]]:
    """``{relative path: (bytes, mtime_ns, width, height, kind)}`` from an index cache file, or ``{}``."""
    if path is None or not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as cached:
            if int(cached["version"]) != INDEX_VERSION or str(cached["root"]) != root:
                return {}
            return dict(zip(cached["names"].tolist(), map(tuple, cached["rows"].tolist())))
    except (OSError, ValueError, KeyError):
        return {}                          # a damaged cache is rebuilt


def _write_cache(path: Path, root: str, walked: list[tuple[str, int, int]], headers: np.ndarray) -> None:
    """The index cache, written atomically (a crash leaves the old one or none); a cache that cannot be
    written is a warning, never a stop."""
    rows = np.concatenate([np.array([[size, mtime] for _, size, mtime in walked], np.int64).reshape(-1, 2),
                           headers], axis=1)
    names = np.array([p[len(root) + 1:] for p, _, _ in walked], dtype=str)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, version=INDEX_VERSION, root=str(root), names=names, rows=rows)
        os.replace(tmp, path)
    except OSError as e:
        log.warning("could not write the folder index cache %s (%s); the next start scans %s again", path, e, root)


# --------------------------------------------------------------------------------------------- layouts
def _images(root: Path, setting: str) -> tuple[Headers, list[str], list[str]]:
    """``(headers, readable files, unreadable files)`` under ``root``."""
    headers = scan(root, setting)
    readable = [f for f, k in zip(headers.files, headers.kind) if k >= 0]
    skipped = [f for f, k in zip(headers.files, headers.kind) if k < 0]
    return headers, readable, skipped


def _listing(headers: Headers, items: list[tuple[str, ...]], keys: tuple[str, ...], skipped: list[str],
             where: str, tables: dict[str, np.ndarray] | None = None, halves: bool = False) -> Listing:
    """A `Listing` of ``items`` with their header fields, without the examples that have a file whose
    header is unreadable (``skipped``, reported) or that is not among ``headers``; none left is a
    `DataError` naming ``where`` they were looked for."""
    if not items:
        raise DataError(f"no readable images under {where} ({len(skipped)} unreadable files)")
    found = headers.lookup()
    rows = np.array([[found.get(f, -1) for f in item] for item in items], np.int64)
    def field(values: np.ndarray) -> np.ndarray:
        return np.where(rows >= 0, values[np.maximum(rows, 0)] if len(values) else -1, -1)
    listing = Listing(items, keys, field(headers.width),
                      field(headers.height), field(headers.kind), dict(tables or {}), halves, list(skipped))
    listing = listing.keep(np.all(listing.kind >= 0, axis=1))
    if not listing.files:
        raise DataError(f"no readable images under {where} ({len(skipped)} unreadable files)")
    return listing


def single(root: Path, setting: str, key: str = "image") -> Listing:
    """Every image under ``root``, one example each."""
    headers, files, skipped = _images(check_folder(str(root)), setting)
    return _listing(headers, [(f,) for f in files], (key,), skipped, repr(str(root)))


def side_by_side(root: Path, setting: str) -> Listing:
    """The pix2pix layout: every image under ``root`` holds A on its left half and B on its right."""
    headers, files, skipped = _images(check_folder(str(root)), setting)
    return _listing(headers, [(f,) for f in files], ("A", "B"), skipped, repr(str(root)), halves=True)


def two_folders(a_root: Path, b_root: Path, setting: str, keys: tuple[str, str] = ("A", "B")) -> Listing:
    """Pairs of files with the same relative name under ``a_root`` and ``b_root``."""
    a_headers, a_files, a_skipped = _images(a_root, setting)
    b_headers, b_files, b_skipped = _images(b_root, setting)
    a_by = {f[len(os.path.abspath(a_root)) + 1:]: f for f in a_files}
    b_by = {f[len(os.path.abspath(b_root)) + 1:]: f for f in b_files}
    unmatched = len(set(a_by) ^ set(b_by))
    if unmatched:
        log.warning("%d file(s) under %s and %s have no partner with the same name in the other folder",
                    unmatched, a_root, b_root)
    both = Headers(a_headers.files + b_headers.files, np.concatenate([a_headers.width, b_headers.width]),
                   np.concatenate([a_headers.height, b_headers.height]),
                   np.concatenate([a_headers.kind, b_headers.kind]))
    items = [(a_by[k], b_by[k]) for k in sorted(set(a_by) & set(b_by))]
    return _listing(both, items, keys, a_skipped + b_skipped, f"{a_root} and {b_root} (pairs with matching names)")


def domains(root: Path, names: tuple[str, ...], setting: str) -> Listing:
    """``root/<domain>/...`` for each of ``names``: ``image`` plus ``domain``, one-hot in ``names``' order."""
    items, labels, skipped, all_headers = [], [], [], []
    for index, name in enumerate(names):
        folder = root / name
        headers, files, bad = _images(folder, setting) if folder.is_dir() else (None, [], [])
        if not files:
            raise DataError(f"domain {name!r} has no images in {folder}; add images or remove the folder")
        all_headers.append(headers)
        items += [(f,) for f in files]
        labels += [index] * len(files)
        skipped += bad
    merged = Headers(sum((h.files for h in all_headers), []), np.concatenate([h.width for h in all_headers]),
                     np.concatenate([h.height for h in all_headers]), np.concatenate([h.kind for h in all_headers]))
    return _listing(merged, items, ("image",), skipped, str(root),
                    {"domain": np.eye(len(names), dtype=np.float32)[labels]})


def listed(root: Path, files: list[Path], tables: dict[str, np.ndarray], setting: str) -> Listing:
    """The given image ``files`` under ``root``, each with its row of every array in ``tables``."""
    headers = scan(root, setting)
    where = headers.lookup()
    items = [(os.path.abspath(f),) for f in files]
    skipped = [str(item[0]) for item in items if item[0] in where and headers.kind[where[item[0]]] < 0]
    return _listing(headers, items, ("image",), skipped, str(root), tables)


def check_folder(path: str) -> Path:
    """``path`` as a folder, or a `DataError` naming the field to set."""
    if not path:
        raise DataError("data.source=folder needs --config.data.path=/path/to/images")
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"data folder {path!r} does not exist or is not a folder")
    return root


def split_root(data: ml_collections.ConfigDict, split: str) -> Path:
    """``path/<split>`` where it exists (``path/train/...``, ``path/test/...``), else ``path`` for the
    training split; a held-out split without its folder is a `DataError`."""
    root = check_folder(data.path)
    if (root / split).is_dir():
        return root / split
    if split != data.split:
        raise DataError(f"no held-out folder {root / split}")
    return root


def domain_folders(data: ml_collections.ConfigDict) -> tuple[str, ...]:
    """The sub-folders of the training folder, sorted; image files beside them are counted and ignored."""
    root = split_root(data, data.split)
    names = tuple(sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")))
    stray = [f for f in scan(root, data.get("index_cache", "auto")).files if os.path.dirname(f) == os.path.abspath(root)]
    if stray:
        log.warning("%d image file(s) directly in %s belong to no domain and are ignored (e.g. %s); put each "
                    "domain's images in its own sub-folder", len(stray), root, os.path.basename(stray[0]))
    return names


def usable_pairs(listing: Listing, scale: int, hr_size: int) -> Listing:
    """An ``lr``/``hr`` listing without (warned) pairs whose sizes are not ``scale`` apart or whose HR
    image is smaller than ``hr_size``."""
    (lw, hw), (lh, hh) = listing.width.T, listing.height.T
    usable = ((hw >= scale * lw) & (hh >= scale * lh) & (hw < scale * (lw + 1)) & (hh < scale * (lh + 1))
              & (np.minimum(hw, hh) >= hr_size))
    if not usable.all():
        log.warning("skipped %d LR/HR pair(s) whose sizes are not x%d apart or smaller than %d HR pixels",
                    int((~usable).sum()), scale, hr_size)
    if not usable.any():
        raise DataError(f"no usable x{scale} LR/HR pairs (of at least {hr_size} HR pixels) in the data folder")
    return listing.keep(usable)

