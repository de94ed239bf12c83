"""How each FID tool turns an image into the Inception's input: the modes of ``--fid-mode`` / ``eval.fid_mode``.

- ``legacy_pytorch`` (the default): pytorch-fid's preprocessing, which clean-fid's mode of that name
  repeats: RGB in [0, 1], resized to 299x299 bilinearly without antialiasing (PyTorch's
  ``align_corners=False``), then ``2x - 1``.
- ``clean``: clean-fid's: the image in 8 bits, each channel resized to 299x299 by PIL's bicubic filter on
  float32 values (antialiased when shrinking), clipped to [0, 255], then ``(x - 128) / 128``. Generated
  images are quantised to 8 bits first, as saving them does (clean-fid's own generator path feeds its
  floats unquantised; scoring saved images is what its authors recommend, and what this equals).
- ``legacy_tensorflow``: the TensorFlow FID's (TTUR), as the NVIDIA TorchScript ``inception-2015-12-05.pt``
  of StyleGAN2-ADA / StyleGAN3 and clean-fid's mode of that name compute it: the image in 8 bits resized
  to 299x299 by TensorFlow 1's ``resize_bilinear`` (no half-pixel centres: output pixel ``i`` samples
  input ``i * in / 299``, clamped at the border; no antialiasing), then ``(x - 128) / 128``. Generated
  images are quantised to 8 bits first, as those tools feed them.

Images reach both as their files give them: PIL's ``convert("RGB")``, as both tools read a file
(`read_rgb`). Each mode has a record, stored in statistics files and cache keys, so statistics of one
mode are never compared with another's.
"""
from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from jaxgan.errors import ConfigError
from jaxgan.models.inception import SIZE

MODES = ("legacy_pytorch", "clean", "legacy_tensorflow")
#: what statistics computed in each mode record (legacy_pytorch's is the record of files before modes)
RECORDS = {"legacy_pytorch": "fid-inception-2015-12-05/pool3/bilinear-299-no-antialias/rgb-0-1",
           "clean": "fid-inception-2015-12-05/pool3/clean-fid-pil-bicubic-float32-299/rgb-0-255",
           "legacy_tensorflow": "fid-inception-2015-12-05/pool3/tf1-bilinear-299/rgb-0-255"}


def check(mode: str) -> str:
    """``mode``, or a `ConfigError` naming the modes."""
    if mode not in MODES:
        raise ConfigError(f"FID mode {mode!r} is unknown; choose one of {', '.join(MODES)}")
    return mode


def read_rgb(path: str | Path) -> np.ndarray:
    """``uint8 [H, W, 3]`` of an image file, as pytorch-fid and clean-fid read it (``convert("RGB")``:
    grey replicated, an alpha channel dropped, 16-bit values clipped to 255)."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def on_host(mode: str, image: np.ndarray) -> np.ndarray:
    """One image (``[H, W, 3]`` in [0, 1]) as the network's compiled call takes it: as it is for
    ``legacy_pytorch`` (resized on the device); in 8 bits resized to 299x299, on [0, 255], for the others."""
    if mode == "legacy_pytorch":
        return np.asarray(image, np.float32)
    pixels = np.clip(np.round(np.asarray(image, np.float32) * 255.0), 0, 255).astype(np.float32)
    if mode == "legacy_tensorflow":
        return resized_tf1_bilinear(pixels)
    channels = [np.asarray(Image.fromarray(np.ascontiguousarray(pixels[..., c])).resize((SIZE, SIZE), Image.BICUBIC))
                for c in range(3)]
    return np.clip(np.stack(channels, axis=-1), 0, 255).astype(np.float32)


def _tf1_taps(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each of the 299 outputs along an axis of ``size`` inputs: the two input indices and the second's
    weight of TensorFlow 1's ``resize_bilinear`` (source ``i * size / 299`` in float32, as it computes it)."""
    source = np.arange(SIZE, dtype=np.float32) * np.float32(size / SIZE)
    low = np.floor(source).astype(np.int64)
    return np.minimum(low, size - 1), np.minimum(low + 1, size - 1), source - low.astype(np.float32)


def resized_tf1_bilinear(pixels: np.ndarray) -> np.ndarray:
    """``[H, W, C] -> [299, 299, C]`` (float32), TensorFlow 1's bilinear resize without half-pixel centres."""
    top, bottom, wy = _tf1_taps(pixels.shape[0])
    left, right, wx = _tf1_taps(pixels.shape[1])
    rows = pixels[top] + (pixels[bottom] - pixels[top]) * wy[:, None, None]
    return (rows[:, left] + (rows[:, right] - rows[:, left]) * wx[None, :, None]).astype(np.float32)


def resized_bilinear(images: jax.Array) -> jax.Array:
    """``[B, H, W, 3] -> [B, 299, 299, 3]``, bilinear without antialiasing (pytorch-fid's resize)."""
    return jax.image.resize(images, (images.shape[0], SIZE, SIZE, images.shape[-1]), "linear", antialias=False)


def on_device(mode: str, images: jax.Array) -> jax.Array:
    """A batch from `on_host` (one size) -> the Inception's input: 299x299, scaled as the mode's tool does."""
    x = images.astype(jnp.float32)
    if mode == "legacy_pytorch":
        return 2.0 * resized_bilinear(x) - 1.0
    return (x - 128.0) / 128.0
