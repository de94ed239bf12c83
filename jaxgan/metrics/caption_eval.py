"""Does the picture show what the caption says? Evaluation of a text-to-image generator on the embedded
coloured digits, by two classifiers trained on real training images alone (not the discriminator): one
reads the digit (from `classifiers.stroke_map`s, whatever the colour), one the colour.

Prompts: every digit/colour combination, each in a held-out phrasing (never a training caption) and in a
training phrasing, ``samples`` images each. Figures (fractions of generated images):

- ``digit_agreement``, ``colour_agreement``, ``both_agreement``: the classifiers read the caption's digit,
  its colour, both; next to chance (``*_chance``: 1/10, 1/6, 1/60) and to the same classifiers on real
  held-out images (``*_real``, their ceiling);
- ``both_agreement_unseen_combinations``: on the ten combinations no training image shows;
- ``both_agreement_new_phrasing``: on the held-out phrasings.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from jaxgan.data.embedded import (COLOURS, HELD_OUT_TEMPLATES, TRAIN_TEMPLATES, UNSEEN_COMBINATIONS,
                                  digit_caption)
from jaxgan.metrics.classifiers import stroke_map, train_classifier

#: ``(prompts, seed) -> images [len(prompts), H, W, C]`` in [-1, 1]
Generate = Callable[[list[str], int], np.ndarray]


def prompts() -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(prompts, digit, colour, unseen combination?, new phrasing?)``: each digit/colour combination in
    one held-out and one training phrasing (cycling through each list)."""
    names = list(COLOURS)
    rows = []
    for digit in range(10):
        for colour, name in enumerate(names):
            combination = digit * len(names) + colour
            for templates, new in ((HELD_OUT_TEMPLATES, True), (TRAIN_TEMPLATES, False)):
                rows.append((digit_caption(templates[combination % len(templates)], digit, name), digit, colour,
                             (digit, colour) in UNSEEN_COMBINATIONS, new))
    texts, digits, colours, unseen, new = zip(*rows)
    return list(texts), np.array(digits), np.array(colours), np.array(unseen), np.array(new)


def evaluate(generate: Generate, train: dict[str, np.ndarray], held_out: dict[str, np.ndarray], seed: int,
             samples: int = 8, batch: int = 240) -> dict[str, float]:
    """The figures of the module docstring."""
    read_digit = train_classifier(stroke_map(train["image"]), train["digit"], 10, seed, steps=1000)
    read_colour = train_classifier(train["image"], train["colour"], len(COLOURS), seed + 1)
    texts, digits, colours, unseen, new = (np.repeat(a, samples) if not isinstance(a, list) else
                                           [t for t in a for _ in range(samples)] for a in prompts())
    images = np.concatenate([generate(texts[i:i + batch], seed + 1000 + i) for i in range(0, len(texts), batch)])
    digit_ok = read_digit(stroke_map(images))[0].argmax(-1) == digits
    colour_ok = read_colour(images)[0].argmax(-1) == colours
    both = digit_ok & colour_ok
    real_digit = read_digit(stroke_map(held_out["image"]))[0].argmax(-1) == held_out["digit"]
    real_colour = read_colour(held_out["image"])[0].argmax(-1) == held_out["colour"]
    return {"digit_agreement": float(digit_ok.mean()), "colour_agreement": float(colour_ok.mean()),
            "both_agreement": float(both.mean()),
            "both_agreement_unseen_combinations": float(both[unseen].mean()),
            "both_agreement_new_phrasing": float(both[new].mean()),
            "digit_real": float(real_digit.mean()), "colour_real": float(real_colour.mean()),
            "both_real": float((real_digit & real_colour).mean()),
            "digit_chance": 0.1, "colour_chance": 1.0 / len(COLOURS), "both_chance": 1.0 / (10 * len(COLOURS))}
