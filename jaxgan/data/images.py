"""Reading any image file into a fixed-size array (PIL), and writing grids and PNGs."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from jaxgan.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
READ_ERRORS = (OSError, UnidentifiedImageError, ValueError, SyntaxError)


def to_mode(image: Image.Image, channels: int) -> Image.Image:
    """Converts grayscale / RGBA / palette / CMYK / 16-bit images to ``L`` (1 channel) or ``RGB`` (3)."""
    if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info:
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)       # transparent pixels become white
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = Image.fromarray((np.asarray(image, np.float64) / 256).clip(0, 255).astype(np.uint8))
    return image.convert("L" if channels == 1 else "RGB")


def resize(image: Image.Image, size: int, mode: str = "crop") -> Image.Image:
    """``crop``: scale the shorter side to ``size`` and centre-crop; ``stretch``: scale to ``size`` square."""
    if mode == "stretch":
        return image.resize((size, size), Image.BICUBIC)
    if mode != "crop":
        raise ValueError(f"unknown resize mode {mode!r}; choose crop or stretch")
    w, h = image.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    image = image.resize((nw, nh), Image.BICUBIC)
    left, top = (nw - size) // 2, (nh - size) // 2
    return image.crop((left, top, left + size, top + size))


def load_image(path: str | os.PathLike, size: int, channels: int, mode: str = "crop") -> np.ndarray:
    """``uint8 [size, size, channels]`` from any readable image file (``size`` 0: its own size)."""
    with Image.open(path) as image:
        image.load()
        image = to_mode(image, channels)
        if size:
            image = resize(image, size, mode)
        return np.asarray(image).reshape(image.height, image.width, channels)


def find_images(root: str | os.PathLike) -> list[Path]:
    """Image files under ``root`` (recursive, sorted, hidden files ignored)."""
    root = Path(root)
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def centre_crop(image: np.ndarray, side: int) -> np.ndarray:
    """The central ``side`` x ``side`` square of ``[H, W, C]``; an image smaller than that is a `DataError`."""
    h, w = image.shape[:2]
    if min(h, w) < side:
        raise DataError(f"an example image ({h}x{w}) is smaller than the {side}-pixel crop")
    top, left = (h - side) // 2, (w - side) // 2
    return image[top:top + side, left:left + side]


def to_uint8(images: np.ndarray) -> np.ndarray:
    """[-1, 1] floats -> uint8."""
    return np.clip(np.round((np.asarray(images, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def make_grid(images: np.ndarray, columns: int | None = None, pad: int = 2) -> np.ndarray:
    """``[N, H, W, C]`` in [-1, 1] -> one ``uint8 [rows*H, cols*W, C]`` grid image."""
    images = to_uint8(images)
    n, h, w, c = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, c), 255, np.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + col * (w + pad):pad + col * (w + pad) + w] = images[i]
    return grid


def save_png(array: np.ndarray, path: str | os.PathLike) -> None:
    """Writes ``uint8 [H, W, 1|3]`` as PNG, atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(tmp, format="PNG")
    os.replace(tmp, path)
