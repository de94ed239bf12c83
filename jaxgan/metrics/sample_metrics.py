"""Standard sample-quality metrics on feature vectors (any feature network: FID's Inception pool3, or a
classifier's features on small domains), beside `frechet.frechet_distance` (FID):

- `kernel_inception_distance` (KID, Binkowski et al. 2018): the unbiased MMD^2 with the cubic polynomial
  kernel ``(x.y / d + 1)^3``, averaged over random subsets, as torch-fidelity computes it (100 subsets of
  1000, or of the smaller set's size);
- `inception_score` (Salimans et al. 2016): ``exp(E_x KL(p(y|x) || p(y)))`` over 10 splits, mean and std;
- `precision_recall` (Kynkaanniemi et al. 2019): the fraction of generated samples inside the real
  samples' k-NN balls (k = 3), and of real samples inside the generated ones'.
"""
from __future__ import annotations

import numpy as np


def _polynomial_mmd2(a: np.ndarray, b: np.ndarray) -> float:
    d = a.shape[1]
    k_aa, k_bb, k_ab = ((x @ y.T / d + 1.0) ** 3 for x, y in ((a, a), (b, b), (a, b)))
    m, n = len(a), len(b)
    return float((k_aa.sum() - np.trace(k_aa)) / (m * (m - 1)) + (k_bb.sum() - np.trace(k_bb)) / (n * (n - 1))
                 - 2.0 * k_ab.mean())


def kernel_inception_distance(real: np.ndarray, fake: np.ndarray, subsets: int = 100, subset_size: int = 1000,
                              seed: int = 2020) -> tuple[float, float]:
    """KID's mean and standard deviation over ``subsets`` random subsets (without replacement) of
    ``min(subset_size, len(real), len(fake))`` samples of each set (float64)."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    size = min(subset_size, len(real), len(fake))
    if size < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    rng = np.random.RandomState(seed)
    values = [_polynomial_mmd2(real[rng.choice(len(real), size, replace=False)],
                               fake[rng.choice(len(fake), size, replace=False)]) for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))


def inception_score(logits: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """IS's mean and standard deviation over ``splits`` consecutive splits of the class ``logits``."""
    logits = np.asarray(logits, np.float64)
    splits = max(1, min(splits, len(logits)))
    log_p = logits - logits.max(-1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(-1, keepdims=True))
    scores = []
    for part in np.array_split(log_p, splits):
        p = np.exp(part)
        log_marginal = np.log(p.mean(0) + 1e-30)
        scores.append(np.exp(np.mean(np.sum(p * (part - log_marginal), axis=-1))))
    return float(np.mean(scores)), float(np.std(scores))


def _radii(features: np.ndarray, k: int) -> np.ndarray:
    """Each sample's distance to its k-th nearest other sample."""
    return np.sort(_distances(features, features), axis=1)[:, k]          # column 0 is the sample itself


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    squared = (a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.clip(squared, 0.0, None))


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """``(precision, recall)``: generated samples within some real sample's k-NN radius, and real samples
    within some generated sample's (float64, exact distances)."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} samples in each set")
    inside = _distances(fake, real) <= _radii(real, k)[None, :]
    covered = _distances(real, fake) <= _radii(fake, k)[None, :]
    return float(inside.any(1).mean()), float(covered.any(1).mean())
