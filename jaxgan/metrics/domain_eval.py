"""Evaluation of a multi-domain translator (StarGAN) by a domain classifier trained on real images alone
(not the discriminator), on held-out images translated into every other domain:

- ``domain_accuracy``: the fraction of translations the classifier puts in the requested domain (attribute
  models: the fraction whose changed attribute reads as requested);
- ``domain_accuracy_real``: the classifier's accuracy on the real held-out images (its ceiling), and
  ``domain_accuracy_untranslated``: the same test applied to the untranslated inputs (what a generator that
  does nothing scores);
- ``reconstruction_l1``: mean |G(G(x, target), own) - x| (images in [-1, 1]);
- asked for (the data then labels content: the embedded digits): ``content_kept``, the fraction of translations a
  content classifier gives the input's label, next to ``content_accuracy_real`` on real held-out images.
  That classifier sees `stroke_map`s, so that it reads the content whatever the style.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from jaxgan.metrics.batching import in_batches
from jaxgan.metrics.classifiers import stroke_map, train_classifier

#: ``(images, labels [B, D]) -> images``: the generator into the domains ``labels`` name
Translate = Callable[[np.ndarray, np.ndarray], np.ndarray]


def evaluate(translate: Translate, train: dict[str, np.ndarray], held_out: dict[str, np.ndarray],
             targets_of: Callable[[np.ndarray], list[np.ndarray]], multi_label: bool, seed: int,
             content: bool = False) -> dict[str, float]:
    """The figures of the module docstring (``content_*`` where ``content``: the splits then hold a
    ``content`` label). ``targets_of(own)`` gives one target label array per domain
    (`recipes.stargan.test_targets`); single-label translations into an image's own domain are skipped."""
    num = train["domain"].shape[-1]
    size = max(16, train["image"].shape[1] // 4)          # 16 px for the 32-px digit styles, 32 px at 128

    def labels(split: dict[str, np.ndarray]) -> np.ndarray:
        return split["domain"] if multi_label else split["domain"].argmax(-1)

    classify = train_classifier(train["image"], labels(train), num, seed, multi_label=multi_label, input_size=size)
    read_content = None                     # a digit classifier reading stroke maps
    if content:
        read_content = train_classifier(stroke_map(train["image"]), train["content"], int(train["content"].max()) + 1,
                                   seed + 1, steps=1000)

    x, own = held_out["image"], np.asarray(held_out["domain"], np.float32)
    real_logits = in_batches(lambda a: classify(a)[0], x)
    if multi_label:
        real_accuracy = np.mean((real_logits > 0) == (own > 0.5))
    else:
        real_accuracy = np.mean(real_logits.argmax(-1) == own.argmax(-1))

    def lands(logits: np.ndarray, target: np.ndarray, index: int) -> np.ndarray:
        if multi_label:
            return (logits[:, index] > 0) == (target[:, index] > 0.5)
        return logits.argmax(-1) == index

    hits, untouched, errors, kept = [], [], [], []
    for index, target in enumerate(targets_of(own)):
        target = np.asarray(target, np.float32)
        rows = np.ones(len(x), bool) if multi_label else own.argmax(-1) != index
        if not rows.any():
            continue
        xs, ts, os_ = x[rows], target[rows], own[rows]
        fake = in_batches(translate, xs, ts)
        back = in_batches(translate, fake, os_)
        hits.append(lands(in_batches(lambda a: classify(a)[0], fake), ts, index))
        untouched.append(lands(real_logits[rows], ts, index))
        errors.append(np.abs(back - xs).mean(axis=(1, 2, 3)))
        if read_content is not None:
            kept.append(in_batches(lambda a: read_content(stroke_map(a))[0], fake).argmax(-1) == held_out["content"][rows])
    results = {"domain_accuracy": float(np.mean(np.concatenate(hits))),
               "domain_accuracy_real": float(real_accuracy),
               "domain_accuracy_untranslated": float(np.mean(np.concatenate(untouched))),
               "reconstruction_l1": float(np.mean(np.concatenate(errors)))}
    if read_content is not None:
        real_content = in_batches(lambda a: read_content(stroke_map(a))[0], x).argmax(-1) == held_out["content"]
        results["content_kept"] = float(np.mean(np.concatenate(kept)))
        results["content_accuracy_real"] = float(np.mean(real_content))
    return results
