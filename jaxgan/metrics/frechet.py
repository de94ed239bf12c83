"""Frechet distance between Gaussians fitted to two feature sets (the statistic behind FID)."""
from __future__ import annotations

import numpy as np


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """``||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` for features ``a [N, D]``, ``b [M, D]``."""
    return frechet_distance_from_stats(*gaussian_stats(a), *gaussian_stats(b))


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, covariance)`` of ``features [N, D]`` in float64 (the unbiased covariance, as pytorch-fid)."""
    features = np.asarray(features, np.float64)
    return features.mean(0), np.atleast_2d(np.cov(features, rowvar=False))


def frechet_distance_from_stats(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray) -> float:
    """The Frechet distance of two Gaussians. ``Tr((S_a S_b)^(1/2))`` is the sum of square roots of the
    eigenvalues of the symmetric PSD matrix ``S_a^(1/2) S_b S_a^(1/2)`` (same spectrum as ``S_a S_b``),
    which is stable for singular covariances."""
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    w, v = np.linalg.eigh(cov_a)
    sqrt_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    eig = np.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a)
    trace_sqrt = float(np.sum(np.sqrt(np.clip(eig, 0, None))))
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt)
