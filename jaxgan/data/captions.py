"""Images with captions from a folder: a ``.txt`` beside each image, or a JSONL manifest.

- Beside: ``cat.png`` + ``cat.txt``, one caption per non-blank line (several lines: several captions of
  that image, one drawn per step).
- Manifest: a ``*.jsonl`` file directly in the folder (or named by ``data.path``), one
  ``{"image": "relative/path.png", "text": "..."}`` per line; an image on several lines has several captions.

Images without a caption are counted and skipped; an empty or unreadable caption file, a manifest line
that is not such a record and a manifest entry whose image is missing are skipped, each kind with one
warning naming the count and an example.

In place of captions, `read_embeddings` reads pre-computed sentence embeddings (``model.text_encoder=fixed``).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from jaxgan.data.images import find_images
from jaxgan.errors import DataError

log = logging.getLogger(__name__)


def _warn(problems: list[str], what: str, root: Path) -> None:
    if problems:
        log.warning("%s %d %s under %s (e.g. %s)", "skipped", len(problems), what, root, problems[0])


def _manifest(path: Path, root: Path) -> tuple[list[Path], list[list[str]]]:
    captions: dict[Path, list[str]] = {}
    bad, missing = [], []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read the caption manifest {path}: {e}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            image, text = root / record["image"], str(record["text"]).strip()
        except (ValueError, KeyError, TypeError):
            bad.append(f"line {number}")
            continue
        if not image.is_file():
            missing.append(str(record["image"]))
        elif text:
            captions.setdefault(image, []).append(text)
        else:
            bad.append(f"line {number} (empty text)")
    _warn(bad, f"line(s) of {path.name} that are not {{\"image\": ..., \"text\": ...}} records", root)
    _warn(missing, f"manifest entr(ies) of {path.name} whose image does not exist", root)
    uncaptioned = [f for f in find_images(root) if f not in captions]
    if uncaptioned:
        log.warning("skipped %d image(s) under %s with no caption in %s", len(uncaptioned), root, path.name)
    files = sorted(captions)
    return files, [captions[f] for f in files]


def _beside(root: Path) -> tuple[list[Path], list[list[str]]]:
    files, captions, unreadable, empty, uncaptioned = [], [], [], [], 0
    for image in find_images(root):
        text_file = image.with_suffix(".txt")
        if not text_file.is_file():
            uncaptioned += 1
            continue
        try:
            lines = [line.strip() for line in text_file.read_text(encoding="utf-8").splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError):
            unreadable.append(text_file.name)
            continue
        if not lines:
            empty.append(text_file.name)
            continue
        files.append(image)
        captions.append(lines)
    _warn(unreadable, "unreadable caption file(s)", root)
    _warn(empty, "empty caption file(s)", root)
    if uncaptioned:
        log.warning("skipped %d image(s) under %s with no caption file beside them (image.png needs image.txt)",
                    uncaptioned, root)
    return files, captions


def read_captioned(path: str | Path) -> tuple[list[Path], list[list[str]]]:
    """``(image files, their captions)`` under folder ``path`` (or from manifest file ``path``), sorted by file."""
    path = Path(path)
    if path.is_file() and path.suffix == ".jsonl":
        files, captions = _manifest(path, path.parent)
    elif not path.is_dir():
        raise DataError(f"data folder {str(path)!r} does not exist or is not a folder")
    else:
        manifests = sorted(path.glob("*.jsonl"))
        if len(manifests) > 1:
            raise DataError(f"{path} holds {len(manifests)} .jsonl manifests ({', '.join(m.name for m in manifests)});"
                            f" name one with --config.data.path")
        files, captions = _manifest(manifests[0], path) if manifests else _beside(path)
    if not files:
        raise DataError(f"no captioned images under {path}: put image.txt (one caption per line) beside each "
                        f"image, or a JSONL manifest of {{\"image\": \"relative/path.png\", \"text\": \"...\"}} lines")
    return files, captions


def read_embeddings(root: str | Path, path: str | Path) -> tuple[list[Path], dict[str, np.ndarray]]:
    """``(image files, {"embedding": float32 [N, K, E], "caption_count": [N]})``: sentence embeddings
    (K per image, e.g. the released birds/flowers sets' 10 x 1024) from ``.npy`` rows aligned with the
    sorted images under ``root``, or from ``.npz`` with ``embeddings`` and ``filenames`` (image paths
    relative to ``root``, extension optional)."""
    root, path = Path(root), Path(path)
    try:
        loaded = np.load(path)
        if path.suffix == ".npz":
            vectors, names = loaded["embeddings"], [str(n) for n in loaded["filenames"]]
        else:
            vectors, names = loaded, None
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"cannot read sentence embeddings from {path} (.npy rows, or .npz with embeddings and "
                        f"filenames): {e}") from None
    vectors = np.asarray(vectors, np.float32)
    if vectors.ndim == 2:
        vectors = vectors[:, None]
    if vectors.ndim != 3:
        raise DataError(f"{path} holds embeddings of shape {vectors.shape}; expected [images, dim] or "
                        f"[images, captions, dim]")
    found = find_images(root)
    if names is None:
        files = found
    else:
        by_name = {str(f.relative_to(root)): f for f in found} | {str(f.relative_to(root).with_suffix("")): f
                                                                 for f in found}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise DataError(f"{len(missing)} of the {len(names)} filenames in {path} name no image under {root} "
                            f"(e.g. {missing[0]})")
        files = [by_name[n] for n in names]
    if len(files) != len(vectors):
        raise DataError(f"{path} holds embeddings for {len(vectors)} images, but {root} has {len(files)}")
    return files, {"embedding": vectors, "caption_count": np.full(len(files), vectors.shape[1], np.int32)}
