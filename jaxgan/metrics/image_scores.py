"""FID, KID, Inception Score and precision/recall of image sets, as numbers: what ``infer.py --evaluate``
prints, for notebooks (``jaxgan.metrics.fid("generated/", "real/")``).

An image set is a folder (recursive, any sizes and modes), a uint8 array ``[N, H, W, C]`` (C 1 or 3), or
a statistics file `save_statistics` wrote (pytorch-fid's and clean-fid's ``mu``/``sigma`` files too:
FID only). ``mode`` is how images are prepared for the Inception (`fid_modes`: ``legacy_pytorch``,
``clean``, ``legacy_tensorflow``); ``weights`` the Inception's weights file (default:
`models.inception.default_weights`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Union

import numpy as np

from jaxgan.errors import DataError
from jaxgan.metrics import fid_modes, image_sets
from jaxgan.metrics.image_sets import SetFeatures

#: a folder, a statistics file, or uint8 images ``[N, H, W, C]``
ImageSet = Union[str, Path, np.ndarray]


class Scorer:
    """The Inception (loaded once) and the image preparation of one FID ``mode``."""

    def __init__(self, mode: str = "legacy_pytorch", weights: str | Path | None = None, batch: int = 200):
        from jaxgan.models.inception import has_logits, load_fid_inception

        self.mode, self.record, self.batch = fid_modes.check(mode), fid_modes.RECORDS[mode], batch
        self.variables = load_fid_inception(weights)
        self.has_logits = has_logits(self.variables)

    def features(self, images: ImageSet) -> SetFeatures:
        """The Inception statistics (and features) of an image set."""
        if isinstance(images, np.ndarray):
            if images.ndim != 4 or images.dtype != np.uint8 or images.shape[-1] not in (1, 3):
                raise DataError(f"image arrays are uint8 [N, H, W, 1|3]; got {images.dtype} {images.shape}")
            signed = (x.astype(np.float32) / 127.5 - 1.0 for x in images)
            return image_sets.extract(image_sets.unit_rgb(signed), self.variables, self.batch, total=len(images),
                                      mode=self.mode)
        path = Path(images)
        if path.is_file():
            return image_sets.load_stats(path, self.record)
        return image_sets.folder_features(path, self.variables, self.batch, self.mode)

    def scores(self, metrics: Iterable[str], images: ImageSet, reference: ImageSet | None = None) -> dict[str, float]:
        """``{figure: value}`` of ``metrics`` (``fid``, ``kid``, ``is``, ``pr``) of ``images`` against
        ``reference``; a reference file is read (and its mode checked) before any image is."""
        metrics = tuple(metrics)
        image_sets.require_logits(metrics, self.has_logits)
        ref = None
        if reference is not None and not isinstance(reference, np.ndarray) and Path(reference).is_file():
            ref = self.features(reference)
        generated = self.features(images)
        if reference is not None and ref is None:
            ref = self.features(reference)
        return image_sets.score(metrics, generated, ref)


def scores(metrics: Iterable[str] | str, images: ImageSet, reference: ImageSet | None = None,
           mode: str = "legacy_pytorch", weights: str | Path | None = None, batch: int = 200) -> dict[str, float]:
    """``{figure: value}`` of ``metrics`` (a list, or ``"fid,kid,is,pr"``): ``fid``; ``kid``, ``kid_std``;
    ``is``, ``is_std``; ``precision``, ``recall``."""
    if isinstance(metrics, str):
        metrics = image_sets.parse_metrics(metrics)
    return Scorer(mode, weights, batch).scores(metrics, images, reference)


def fid(images: ImageSet, reference: ImageSet, mode: str = "legacy_pytorch", weights: str | Path | None = None,
        batch: int = 200) -> float:
    """Frechet Inception distance between two image sets."""
    return scores(("fid",), images, reference, mode, weights, batch)["fid"]


def kid(images: ImageSet, reference: ImageSet, mode: str = "legacy_pytorch", weights: str | Path | None = None,
        batch: int = 200) -> float:
    """Kernel Inception distance (the mean over subsets; ``scores`` gives its standard deviation too)."""
    return scores(("kid",), images, reference, mode, weights, batch)["kid"]


def inception_score(images: ImageSet, mode: str = "legacy_pytorch", weights: str | Path | None = None,
                    batch: int = 200) -> float:
    """Inception Score (the mean over splits); needs weights with the classifier (pytorch-fid's .pth)."""
    return scores(("is",), images, None, mode, weights, batch)["is"]


def precision_recall(images: ImageSet, reference: ImageSet, mode: str = "legacy_pytorch",
                     weights: str | Path | None = None, batch: int = 200) -> tuple[float, float]:
    """Improved precision and recall (k = 3) of ``images`` against ``reference``."""
    out = scores(("pr",), images, reference, mode, weights, batch)
    return out["precision"], out["recall"]


def save_statistics(images: ImageSet, path: str | Path, mode: str = "legacy_pytorch",
                    weights: str | Path | None = None, batch: int = 200) -> int:
    """Writes an image set's Inception statistics and features to ``path`` (.npz, usable as a reference);
    returns how many images they hold."""
    scorer = Scorer(mode, weights, batch)
    features = scorer.features(images)
    image_sets.save_stats(features, path, scorer.record)
    return features.count


__all__ = ["ImageSet", "Scorer", "fid", "inception_score", "kid", "precision_recall", "save_statistics", "scores"]
