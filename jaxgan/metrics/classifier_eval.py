"""GAN evaluation for labelled data: a small classifier trained on the real training images gives

- ``fd_generated`` / ``fd_held_out``: Frechet distance, in its penultimate-layer feature space, of the
  generated images and of held-out real images to the real training images;
- ``class_entropy_*``: entropy (nats) of the histogram of predicted classes (log(10) = 2.30 for 10
  evenly covered classes; a collapsed generator scores near 0), and ``classes_covered_*``: classes
  receiving at least 1/4 of their even share.
- ``confident_*``: the fraction of images the classifier labels with probability > 0.9 (recognisable
  digits: the figure a reader understands);

- ``classifier_accuracy``: the classifier's held-out accuracy, so the feature space can be trusted.

Frechet distances compare as many generated images as there are held-out ones (its bias depends on the
count); the class figures and the confident fraction of generated images are measured on
`GENERATED_SAMPLES` of them (at least as many as held out), since a fraction of a few hundred samples
moves by a few points between sample draws alone.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from jaxgan.metrics.feature_networks import ClassifierFeatures
from jaxgan.metrics.frechet import frechet_distance_from_stats


#: generated images the class figures and confident fraction are measured on (standard error of a
#: fraction near 0.8: 0.6 points, against 2.3 with the 297 held-out digits' count)
GENERATED_SAMPLES = 4096


def class_spread(logits: np.ndarray, num_classes: int) -> tuple[float, int]:
    """(entropy of the predicted-class histogram, classes with >= 1/4 of an even share)."""
    hist = np.bincount(logits.argmax(-1), minlength=num_classes) / len(logits)
    entropy = float(-np.sum(hist[hist > 0] * np.log(hist[hist > 0]))) + 0.0      # + 0.0: no -0.0
    return entropy, int(np.sum(hist >= 0.25 / num_classes))


def confident_fraction(logits: np.ndarray, threshold: float = 0.9) -> float:
    """The fraction of rows whose softmax probability of the top class exceeds ``threshold``."""
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(-1, keepdims=True)
    top = 1.0 / np.exp(shifted).sum(-1)                 # softmax of the top class (its shifted logit is 0)
    return float(np.mean(top > threshold))


def evaluate(sample: Callable[[int], np.ndarray], train: dict[str, np.ndarray], held_out: dict[str, np.ndarray],
             seed: int) -> dict[str, float]:
    """The figures of the module docstring for ``sample(n)`` (``n`` generated images in [-1, 1]) against
    the real ``held_out`` images, in the feature space of a classifier trained on ``train``."""
    network = ClassifierFeatures(train["image"], train["label"], seed)
    num_classes = network.num_classes
    count = len(held_out["image"])
    images = sample(max(count, GENERATED_SAMPLES))
    reference, held, generated, many = (network(x) for x in (train["image"], held_out["image"], images[:count],
                                                             images))
    h_entropy, h_covered = class_spread(held.logits, num_classes)
    g_entropy, g_covered = class_spread(many.logits, num_classes)
    return {"fd_generated": frechet_distance_from_stats(generated.mu, generated.sigma, reference.mu, reference.sigma),
            "fd_held_out": frechet_distance_from_stats(held.mu, held.sigma, reference.mu, reference.sigma),
            "class_entropy_generated": g_entropy, "class_entropy_held_out": h_entropy,
            "classes_covered_generated": float(g_covered), "classes_covered_held_out": float(h_covered),
            "confident_generated": confident_fraction(many.logits),
            "confident_held_out": confident_fraction(held.logits),
            "classifier_accuracy": float(np.mean(held.logits.argmax(-1) == held_out["label"]))}
