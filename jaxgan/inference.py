"""Loading a trained generator from a workdir, and running it the one way every mode shares.

`load_generator` restores only the generators' variables (no discriminator, no optimiser state) and
changes nothing process-wide. `Predictor` jits the recipe's `predict` for one set of choices and runs it
on a batch, or on one large image in overlapping tiles when the recipe declares a tile margin.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxgan import config as config_lib
from jaxgan import recipes, tiling
from jaxgan.checkpoint import Checkpointer
from jaxgan.errors import CheckpointError, ConfigError


def load_generator(workdir: str | Path, step: int | None = None) -> tuple[recipes.Recipe, dict[str, Any], int]:
    """``(recipe, generator variables, step)`` from the latest (or the given) checkpoint of ``workdir``."""
    workdir = Path(workdir)
    config = config_lib.load_json(workdir / "config.json")
    recipe = recipes.build(config)
    checkpointer = Checkpointer(workdir / "checkpoints", asynchronous=False)
    try:
        steps = checkpointer.all_steps()
        if not steps:
            raise CheckpointError(f"no checkpoint in {workdir / 'checkpoints'}: train first")
        if step is None:
            step = max(steps)
        elif step not in steps:
            raise CheckpointError(f"no checkpoint for step {step} in {workdir}; have {sorted(steps)}")
        device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        abstract = jax.eval_shape(recipe.init, jax.random.PRNGKey(0), recipe.example_batch())
        wanted = {"train": {"nets": {name: abstract.nets[name].variables for name in recipe.generator_names}}}
        target = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device), wanted)
        restored = checkpointer.restore_subset(step, target)
    finally:
        checkpointer.close()
    return recipe, dict(restored["train"]["nets"]), step


class Predictor:
    """``recipe.predict`` for fixed ``choices`` (checked against the recipe's `GeneratorSpec`), jitted once."""

    def __init__(self, recipe: recipes.Recipe, variables: dict[str, Any], **choices: str | None):
        spec = recipe.generator_spec
        self.spec, self.variables = spec, variables
        picked = {}
        for name, value in choices.items():
            if value is None:
                continue
            if name not in spec.choices:
                raise ConfigError(f"--{name} does not apply to this run")
            allowed = spec.choices[name]
            if allowed is not None and value not in allowed:
                raise ConfigError(f"this run's --{name} can be {' or '.join(allowed)}, not {value!r}")
            picked[name] = value
        self._predict = jax.jit(lambda v, x: recipe.predict(v, x, **picked))

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        """A batch of inputs (noise, or images in [-1, 1]) -> images in [-1, 1]."""
        return np.asarray(self._predict(self.variables, inputs))

    def tiled(self, image: np.ndarray, tile: int, batch: int) -> np.ndarray:
        """One image [H, W, C] in overlapping tiles of ``tile`` input pixels, ``batch`` tiles per call."""
        margin = self.spec.tile_margin
        if tile <= 2 * margin:
            raise ConfigError(f"--tile must exceed twice the network's receptive radius ({margin} pixels), "
                              f"got {tile}")
        return tiling.upscale_tiled(self, image, self.spec.scale, tile, margin, batch)
