"""Sample metrics of a run's generator (FID, KID, IS, precision/recall) in a chosen feature space, as the
trainer logs them (``config.eval.metrics``) and ``infer.py --workdir RUN --evaluate`` prints them.

Each recipe names the sets to score (`Recipe.scoring_sets`): generated images against real ones (noise
and text runs: samples against the training images; translation runs: held-out inputs translated,
against the target domain's training images), one set per direction or domain where there are several
(figures ``fid_AtoB``, ``fid_BtoA`` ... plus their mean as ``fid``). The real side's features are
computed once per scorer, and Inception statistics are also cached on disk (`image_sets.cached`).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import ml_collections
import numpy as np

from jaxgan.errors import ConfigError
from jaxgan.metrics import image_sets
from jaxgan.metrics.feature_networks import FeatureNetwork

#: the figure each metric is judged by, and whether lower is better
HEADLINE = {"fid": "fid", "kid": "kid", "is": "is", "pr": "precision"}
LOWER_IS_BETTER = {"fid": True, "kid": True, "is": False, "precision": False, "recall": False}


@dataclasses.dataclass
class ScoringSet:
    """Real images (in [-1, 1], any sizes) and how to make the generator's images to compare with them."""

    reference: Sequence[np.ndarray]
    generate: Callable[[], Sequence[np.ndarray]]


def real_limit(num: int) -> int:
    """How many real examples evaluation reads when sample metrics use ``num`` (at least the 2,000 the
    recipes' own figures read)."""
    return max(2000, num)


def data_key(config: ml_collections.ConfigDict, num: int) -> dict[str, Any]:
    """What identifies a run's real images for the statistics cache (with the preprocessing, added there)."""
    d = config.data
    return {"source": d.source, "name": d.name, "path": d.path, "layout": d.layout, "split": d.split,
            "size": config.image_size, "channels": d.channels, "resize": d.resize, "direction":
            config.get("direction", ""), "num": num}


def best_figure(metrics: Sequence[str], chosen: str = "") -> tuple[str, bool]:
    """``(figure, lower_is_better)`` a run's best checkpoint is judged by: ``chosen``, or the first
    metric's headline figure."""
    figure = chosen or HEADLINE[metrics[0]]
    if figure not in LOWER_IS_BETTER:
        raise ConfigError(f"config.eval.best={figure!r} is not a figure; choose one of {', '.join(LOWER_IS_BETTER)}")
    if figure not in [f for m in metrics for f in (("precision", "recall") if m == "pr" else (m,))]:
        raise ConfigError(f"config.eval.best={figure!r} is not among config.eval.metrics={','.join(metrics)}")
    return figure, LOWER_IS_BETTER[figure]


class RunScorer:
    """``scorer(variables, train, held_out) -> {figure: value}`` for one run: ``metrics`` of up to
    ``num`` generated images against as many real ones, in ``network``'s feature space."""

    def __init__(self, recipe: Any, metrics: Sequence[str], network: FeatureNetwork, num: int, seed: int,
                 cache_key: dict[str, Any] | None = None):
        image_sets.require_logits(metrics, network.has_logits)
        self.recipe, self.metrics, self.network, self.num, self.seed = recipe, tuple(metrics), network, num, seed
        self.cache_key = cache_key
        self._references: dict[str, image_sets.SetFeatures] = {}
        #: ``(generated, real)`` image counts of the last call, summed over its sets
        self.counts = (0, 0)

    def _reference(self, name: str, images: Sequence[np.ndarray]) -> image_sets.SetFeatures:
        if name not in self._references:
            compute = lambda: self.network(images, total=len(images))            # noqa: E731
            if self.network.key is not None and self.cache_key is not None:
                key = {**self.cache_key, "set": name, "count": len(images), "features": self.network.key}
                self._references[name] = image_sets.cached(key, compute, self.network.key)
            else:
                self._references[name] = compute()
        return self._references[name]

    def __call__(self, variables: dict[str, Any], train: dict[str, Any] | None,
                 held_out: dict[str, Any] | None) -> dict[str, float]:
        sets = self.recipe.scoring_sets(variables, train, held_out, self.num, self.seed)
        if not sets:
            raise ConfigError("this run has nothing to score: sample metrics need its training images (and, "
                              "for translation runs, held-out inputs: data.eval_split)")
        per_set, counts = {}, np.zeros(2, int)
        for name, scoring in sets.items():
            generated = scoring.generate()
            counts += (len(generated), len(scoring.reference))
            per_set[name] = image_sets.score(self.metrics, self.network(generated, total=len(generated)),
                                             self._reference(name, scoring.reference))
        self.counts = tuple(int(c) for c in counts)
        if list(per_set) == [""]:
            return per_set[""]
        out = {f"{figure}_{name}": value for name, figures in per_set.items() for figure, value in figures.items()}
        for figure in next(iter(per_set.values())):
            out[figure] = float(np.mean([figures[figure] for figures in per_set.values()]))
        return out
