"""Captions as numbers: word tokenisation, the run's vocabulary, and fixed-shape caption tables.

Words are lower-cased runs of letters and digits (``"A red 7!"`` -> ``a``, ``red``, ``7``). The vocabulary
is built from the training captions (most frequent first, ties alphabetical, at most ``max_size`` words)
and recorded in the run's config, so inference needs nothing else. Word ids start at 1; 0 pads. A word
the vocabulary lacks is dropped (and named by `unknown_words`), at training and at inference alike.
"""
from __future__ import annotations

import collections
import re
from typing import Iterable, Sequence

import numpy as np

_WORD = re.compile(r"[^\W_]+")


def tokenize(text: str) -> list[str]:
    """The words of ``text``, lower-cased."""
    return _WORD.findall(text.lower())


def build_vocabulary(captions: Iterable[str], max_size: int) -> tuple[str, ...]:
    """The ``max_size`` most frequent words of ``captions`` (ties alphabetical)."""
    counts = collections.Counter(word for caption in captions for word in tokenize(caption))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return tuple(word for word, _ in ranked[:max_size])


def unknown_words(text: str, vocabulary: Sequence[str]) -> list[str]:
    """The words of ``text`` the vocabulary lacks, in order, each once."""
    known = set(vocabulary)
    return list(dict.fromkeys(w for w in tokenize(text) if w not in known))


def encode(texts: Sequence[str], vocabulary: Sequence[str], max_words: int) -> np.ndarray:
    """int32 ``[len(texts), max_words]`` word ids (known words only, truncated, zero-padded)."""
    index = {word: i + 1 for i, word in enumerate(vocabulary)}
    out = np.zeros((len(texts), max_words), np.int32)
    for row, text in enumerate(texts):
        ids = [index[w] for w in tokenize(text) if w in index][:max_words]
        out[row, :len(ids)] = ids
    return out


def caption_table(captions: Sequence[Sequence[str]], vocabulary: Sequence[str], max_captions: int,
                  max_words: int) -> dict[str, np.ndarray]:
    """Each example's captions as ``caption`` int32 [N, max_captions, max_words] (the first
    ``max_captions`` of each, the rest zero rows) and ``caption_count`` int32 [N]."""
    ids = np.zeros((len(captions), max_captions, max_words), np.int32)
    count = np.zeros(len(captions), np.int32)
    for row, texts in enumerate(captions):
        kept = list(texts)[:max_captions]
        if kept:
            ids[row, :len(kept)] = encode(kept, vocabulary, max_words)
        count[row] = len(kept)
    return {"caption": ids, "caption_count": count}
