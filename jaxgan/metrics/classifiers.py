"""Small classifiers trained on a run's own real images, the judges of several evaluations: the digit
classes (`classifier_eval`, the ``classifier`` feature space of `feature_networks`), the domains and
content of translations (`domain_eval`), the digit and colour of generated captions (`caption_eval`).
"""
from __future__ import annotations

import hashlib
from typing import Callable

import jax
import numpy as np
import optax

from jaxgan.models import DigitClassifier

#: classifiers trained in this process, by a digest of their data and settings (each evaluation of a run
#: asks for the same one again: training is deterministic, so it is trained once)
_TRAINED: dict[str, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]] = {}


def train_classifier(images: np.ndarray, labels: np.ndarray, num_classes: int, seed: int,
                     steps: int = 300, batch: int = 64, multi_label: bool = False, input_size: int = 16):
    """Trains `DigitClassifier` (on images resized to ``input_size``) with Adam on integer ``labels``, or
    (``multi_label``) on multi-hot float ``labels`` [N, num_classes] with binary cross-entropy; returns a
    jitted ``images -> (logits, features)``. The same data and settings again return the same classifier
    without training it anew."""
    images, labels = np.ascontiguousarray(images), np.ascontiguousarray(labels)
    digest = hashlib.sha256(images.tobytes() + labels.tobytes() + repr(
        (images.shape, images.dtype.str, labels.shape, labels.dtype.str, num_classes, seed, steps, batch, multi_label,
         input_size)).encode()).hexdigest()
    if digest not in _TRAINED:
        if len(_TRAINED) >= 8:
            _TRAINED.pop(next(iter(_TRAINED)))
        _TRAINED[digest] = _train(images, labels, num_classes, seed, steps, batch, multi_label, input_size)
    return _TRAINED[digest]


def _train(images: np.ndarray, labels: np.ndarray, num_classes: int, seed: int, steps: int, batch: int,
           multi_label: bool, input_size: int) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    model = DigitClassifier(num_classes, input_size=input_size)
    params = model.init(jax.random.PRNGKey(seed), images[:1])["params"]
    opt = optax.adam(2e-3)
    opt_state = opt.init(params)

    @jax.jit
    def step(params, opt_state, x, y):
        def loss_fn(p):
            logits, _ = model.apply({"params": p}, x)
            if multi_label:
                return optax.sigmoid_binary_cross_entropy(logits, y).mean()
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        grads = jax.grad(loss_fn)(params)
        updates, opt_state = opt.update(grads, opt_state)
        return optax.apply_updates(params, updates), opt_state

    rng = np.random.default_rng(seed)
    for _ in range(steps):
        idx = rng.integers(0, len(images), batch)
        params, opt_state = step(params, opt_state, images[idx], labels[idx])
    apply = jax.jit(lambda x: model.apply({"params": params}, x))

    def predict(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        outs = [apply(x[i:i + 256]) for i in range(0, len(x), 256)]
        return np.concatenate([np.asarray(o[0]) for o in outs]), np.concatenate([np.asarray(o[1]) for o in outs])

    return predict


def stroke_map(images: np.ndarray) -> np.ndarray:
    """Each image's distance from its own median colour, scaled to [-1, 1] per image, one channel: strokes
    stand out the same way whether dark on light or light on dark, in any colour."""
    distance = np.abs(images - np.median(images, axis=(1, 2), keepdims=True)).mean(-1, keepdims=True)
    return distance / (distance.max(axis=(1, 2, 3), keepdims=True) + 1e-6) * 2.0 - 1.0
