"""Offline quality metrics: FID, KID, Inception Score and precision/recall of image sets
(``jaxgan.metrics.fid(a, b)``: `image_scores`), the Frechet distance, the classifier-based GAN,
domain-translation and caption evaluations, L1 / PSNR / SSIM."""
from typing import Any

#: the notebook functions, from `image_scores` (imported when first used)
SCORES = ("fid", "kid", "inception_score", "precision_recall", "save_statistics", "scores")


def __getattr__(name: str) -> Any:
    if name in SCORES:
        from jaxgan.metrics import image_scores

        return getattr(image_scores, name)
    raise AttributeError(f"module 'jaxgan.metrics' has no attribute {name!r}")
