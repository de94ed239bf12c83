"""The feature spaces sample metrics (FID, KID, IS, precision/recall) are computed in, one interface:
a network maps a stream of images in [-1, 1] (the run's channels, any size) to a `SetFeatures`.

- ``inception``: FID's InceptionV3 (the 2015-12-05 weights), the standard; comparable across papers, its
  images prepared as the chosen FID mode's tool does (`jaxgan.metrics.fid_modes`).
- ``classifier``: a small classifier trained on the run's own labelled real training images (e.g. the
  digits), for small domains where ImageNet features say little; comparable only within one data set
  and seed (it is retrained for each run: deterministic on one machine and device count, but float
  rounding elsewhere trains a slightly different classifier).
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from jaxgan.errors import ConfigError
from jaxgan.metrics import fid_modes, image_sets
from jaxgan.metrics.classifiers import train_classifier
from jaxgan.metrics.frechet import gaussian_stats

FEATURES = ("inception", "classifier")


class FeatureNetwork:
    """``network(images, total) -> SetFeatures``; ``key`` names the feature space (statistics computed in
    it may be cached under it), or is None where they must not outlive the run."""

    key: str | None = None
    has_logits = True

    def __call__(self, images: Iterable[np.ndarray], total: int | None = None) -> image_sets.SetFeatures:
        raise NotImplementedError


class InceptionFeatures(FeatureNetwork):
    """FID's Inception pool3 features and logits (where the weights file has the classifier), the images
    prepared as FID ``mode`` does; ``key`` is the mode's record."""

    def __init__(self, weights: str | None = None, batch: int = 200, mode: str = "legacy_pytorch"):
        from jaxgan.models.inception import has_logits, load_fid_inception

        self.mode, self.key = fid_modes.check(mode), fid_modes.RECORDS[mode]
        self.variables, self.batch = load_fid_inception(weights or None), batch
        self.has_logits = has_logits(self.variables)

    def __call__(self, images: Iterable[np.ndarray], total: int | None = None) -> image_sets.SetFeatures:
        return image_sets.extract(image_sets.unit_rgb(images), self.variables, self.batch, total, self.mode)


class ClassifierFeatures(FeatureNetwork):
    """The penultimate layer (features) and class logits of a classifier trained on labelled real images
    (`classifiers.train_classifier`: 300 Adam steps, a few seconds on CPU)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, seed: int):
        labels = np.asarray(labels)
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ConfigError("eval.features=classifier needs integer class labels (a 'label' field)")
        self.shape, self.num_classes = np.asarray(images).shape[1:], int(labels.max()) + 1
        self.predict = train_classifier(np.asarray(images), labels, self.num_classes, seed)

    def __call__(self, images: Iterable[np.ndarray], total: int | None = None) -> image_sets.SetFeatures:
        batch = np.stack([np.asarray(x, np.float32) for x in images])
        if batch.shape[1:] != self.shape:
            raise ConfigError(f"eval.features=classifier scores images of the training shape {self.shape}, "
                              f"got {batch.shape[1:]}; use eval.features=inception")
        logits, features = self.predict(batch)
        mu, sigma = gaussian_stats(features)
        return image_sets.SetFeatures(mu, sigma, np.asarray(features, np.float64), np.asarray(logits, np.float64),
                                      len(batch))


def build(name: str, train: dict[str, Any] | None, seed: int, inception_weights: str = "",
          batch: int = 200, fid_mode: str = "legacy_pytorch") -> FeatureNetwork:
    """The feature network ``name`` (one of `FEATURES`); ``classifier`` trains on ``train``'s ``image``
    and ``label`` fields; ``inception`` prepares images as FID mode ``fid_mode`` does."""
    if name == "inception":
        return InceptionFeatures(inception_weights, batch, fid_mode)
    if name == "classifier":
        if train is None or "label" not in train or "image" not in train:
            raise ConfigError("eval.features=classifier needs labelled training images (a 'label' field, e.g. "
                              "the digits); this run's data has none: use eval.features=inception")
        return ClassifierFeatures(train["image"], train["label"], seed)
    raise ConfigError(f"eval.features={name!r} is unknown; choose one of {', '.join(FEATURES)}")
