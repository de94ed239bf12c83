"""Full-reference image quality: L1, PSNR and SSIM (Wang et al. 2004 settings, via scikit-image), and
the high-frequency energy of outputs relative to their targets' (sharpness: bicubic upscaling scores
well below 1, artefacts such as a checkerboard push it above).

Inputs are batches in [-1, 1] (NHWC); scores are computed on [0, 1] images and averaged over the batch.
``y_channel`` scores the luminance (ITU-R BT.601, as the super-resolution literature does) and ``border``
pixels are cropped from every side first.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def to_unit(images: np.ndarray) -> np.ndarray:
    return np.clip((np.asarray(images, np.float64) + 1.0) / 2.0, 0.0, 1.0)


def luminance(images01: np.ndarray) -> np.ndarray:
    """BT.601 Y in [16/255, 235/255] from RGB in [0, 1] (MATLAB's rgb2ycbcr), shape [..., 1]."""
    if images01.shape[-1] == 1:
        return images01
    y = (16.0 + images01 @ np.array([65.481, 128.553, 24.966])) / 255.0
    return y[..., None]


def laplacian_energy(image: np.ndarray) -> float:
    """Mean squared response of the 5-point Laplacian ([H, W, C], interior pixels)."""
    c = image[1:-1, 1:-1]
    lap = 4 * c - image[:-2, 1:-1] - image[2:, 1:-1] - image[1:-1, :-2] - image[1:-1, 2:]
    return float(np.mean(lap ** 2))


def colourfulness(image: np.ndarray) -> float:
    """Hasler & Suesstrunk's (2003) colourfulness of an RGB image on [0, 255]: the spread plus 0.3 x the
    mean of the opponent channels ``rg = R - G`` and ``yb = (R + G) / 2 - B`` (0 for any grey image)."""
    rgb = np.asarray(image, np.float64).reshape(-1, 3)
    rg, yb = rgb[:, 0] - rgb[:, 1], 0.5 * (rgb[:, 0] + rgb[:, 1]) - rgb[:, 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def paired_scores(outputs: Sequence[np.ndarray], targets: Sequence[np.ndarray], prefix: str = "",
                  y_channel: bool = False, border: int = 0) -> dict[str, float]:
    """``{prefix}l1``, ``{prefix}psnr`` (dB), ``{prefix}ssim`` and ``{prefix}hf_ratio`` (Laplacian energy
    of the output over the target's) of outputs against targets, averaged over images (a batch, or a
    list of images of different sizes)."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity   # ~2 s to import: when used

    l1, psnr, ssim, hf = [], [], [], []
    for output, target in zip(outputs, targets, strict=True):
        a, b = to_unit(output), to_unit(target)
        if y_channel:
            a, b = luminance(a), luminance(b)
        if border:
            a, b = a[border:-border, border:-border], b[border:-border, border:-border]
        l1.append(np.mean(np.abs(a - b)))
        psnr.append(peak_signal_noise_ratio(b, a, data_range=1.0))
        ssim.append(structural_similarity(b, a, data_range=1.0, channel_axis=-1, gaussian_weights=True,
                                          sigma=1.5, use_sample_covariance=False))
        hf.append(laplacian_energy(a) / max(laplacian_energy(b), 1e-12))
    return {f"{prefix}l1": float(np.mean(l1)), f"{prefix}psnr": float(np.mean(psnr)),
            f"{prefix}ssim": float(np.mean(ssim)), f"{prefix}hf_ratio": float(np.mean(hf))}


def psnr(output: np.ndarray, target: np.ndarray) -> float:
    """PSNR (dB) of one image against its target, both in [-1, 1], on [0, 1]."""
    return float(10.0 * np.log10(1.0 / max(np.mean((to_unit(output) - to_unit(target)) ** 2), 1e-12)))
