"""Translating a folder (or file, or glob) of images with a trained image-to-image generator.

Each readable image is converted to the model's channels, reflect-padded to the network's size multiple
(fully convolutional models run at native resolution) or resized to ``size``, translated in batches of
equal shapes, cropped / resized back to its own size, and written under the same relative name.
Unreadable files are listed and skipped; existing outputs are kept unless ``overwrite``.
"""
from __future__ import annotations

import glob
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
from PIL import Image
from tqdm import tqdm

from jaxgan.data import images as image_io


@dataclass
class TranslationReport:
    translated: int = 0
    kept_existing: int = 0
    unreadable: list[str] = field(default_factory=list)
    seconds: float = 0.0
    output_pixels: int = 0


def collect_inputs(spec: str) -> list[tuple[Path, Path]]:
    """``(path, output relative path)`` for a file, a folder (recursive) or a glob pattern."""
    path = Path(spec)
    if path.is_file():
        return [(path, Path(path.name))]
    if path.is_dir():
        files = [p for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith(".")]
        return [(p, p.relative_to(path)) for p in files]
    matches = [Path(p) for p in sorted(glob.glob(spec, recursive=True)) if Path(p).is_file()]
    return [(p, Path(p.name)) for p in matches]


def _read(path: Path, channels: int) -> np.ndarray | None:
    try:
        return image_io.load_image(path, 0, channels)
    except image_io.READ_ERRORS:
        return None


def _prepare(image: np.ndarray, multiple: int, size: int | None) -> np.ndarray:
    """uint8 HxW(xC) -> float [-1, 1] HxWxC, padded to ``multiple`` or resized to ``size``."""
    if image.ndim == 2:
        image = image[..., None]
    if size:
        pil = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
        image = np.asarray(pil.resize((size, size), Image.BICUBIC)).reshape(size, size, -1)
    return pad_to_multiple(image.astype(np.float32) / 127.5 - 1.0, multiple)


def pad_to_multiple(x: np.ndarray, multiple: int) -> np.ndarray:
    """``[H, W, C]`` reflect-padded at the bottom and right to sides that are multiples of ``multiple``
    (a fully convolutional generator's output is cropped back to ``[:H, :W]``)."""
    h, w = x.shape[:2]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "symmetric"
        x = np.pad(x, ((0, ph), (0, pw), (0, 0)), mode=mode)
    return x


def _restore(output: np.ndarray, height: int, width: int, resized: bool) -> np.ndarray:
    """Model output [-1, 1] -> uint8 at the input's size (crop the padding or resize back)."""
    out = image_io.to_uint8(output)
    if resized:
        pil = Image.fromarray(out[..., 0] if out.shape[-1] == 1 else out)
        return np.asarray(pil.resize((width, height), Image.BICUBIC))
    out = out[:height, :width]
    return out[..., 0] if out.shape[-1] == 1 else out


def translated(translate: Callable[[np.ndarray], Any], images: Iterable[tuple[Any, np.ndarray]], multiple: int,
               batch: int, size: int | None = None, scale: int = 1) -> Iterator[tuple[Any, np.ndarray]]:
    """``(key, output)`` for each ``(key, image)`` of ``images`` (uint8 ``[H, W]`` or ``[H, W, C]`` with the
    model's channels): uint8 outputs ``scale`` times the input's size, run in batches of up to ``batch``
    images of one padded shape (an output comes once its batch is full, the rest at the end).
    ``translate`` maps a float batch in [-1, 1] to outputs ``scale`` times larger or of the same size."""
    groups: dict[tuple[int, ...], list[tuple[Any, tuple[int, int], np.ndarray]]] = defaultdict(list)

    def flush(shape: tuple[int, ...]) -> Iterator[tuple[Any, np.ndarray]]:
        group = groups.pop(shape)
        outputs = np.asarray(translate(np.stack([x for _, _, x in group])))
        for (key, (h, w), _), out in zip(group, outputs):
            yield key, _restore(out, scale * h, scale * w, bool(size))

    for key, image in images:
        x = _prepare(image, multiple, size)
        groups[x.shape].append((key, image.shape[:2], x))
        if len(groups[x.shape]) == batch:
            yield from flush(x.shape)
    for shape in list(groups):
        yield from flush(shape)


def translate_files(translate: Callable[[np.ndarray], Any], items: list[tuple[Path, Path]], output: Path,
                    channels: int, multiple: int, batch: int, size: int | None = None,
                    overwrite: bool = False, scale: int = 1) -> TranslationReport:
    """Translates ``items`` into ``output`` (`translated`), reading each file as its turn comes."""
    report = TranslationReport()
    todo = []
    for path, rel in items:
        target = output / rel
        if target.exists() and not overwrite:
            report.kept_existing += 1
        else:
            todo.append((path, target))
    start = time.perf_counter()
    with tqdm(total=len(todo), unit="img", desc="translating", file=sys.stderr) as bar:
        def readable() -> Iterator[tuple[Path, np.ndarray]]:
            for path, target in todo:
                image = _read(path, channels)
                if image is None:
                    report.unreadable.append(str(path))
                    bar.update(1)
                else:
                    yield target, image

        for target, out in translated(translate, readable(), multiple, batch, size, scale):
            _save(out, target)
            report.translated += 1
            report.output_pixels += out.shape[0] * out.shape[1]
            bar.update(1)
            bar.set_postfix(img_s=f"{report.translated / max(time.perf_counter() - start, 1e-9):.2f}")
    report.seconds = time.perf_counter() - start
    return report


def _save(array: np.ndarray, target: Path) -> None:
    """Writes by the target's extension (unknown ones as PNG), atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fmt = Image.registered_extensions().get(target.suffix.lower(), "PNG")
    image = Image.fromarray(array)
    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    tmp = target.with_name(f".{target.name}.tmp")
    image.save(tmp, format=fmt)
    os.replace(tmp, target)
