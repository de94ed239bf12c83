"""Loading a trained generator from a workdir, and running it the one way every mode shares.

`load_generator` restores only the generators' variables (no discriminator, no optimiser state), from a
workdir's checkpoint or from the one-file export `export_generator` writes, and changes nothing
process-wide. `Predictor` jits the recipe's `predict` for one set of choices and runs it
on a batch, or on one large image in overlapping tiles when the recipe declares a tile margin.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jax
import ml_collections
import numpy as np
from flax import serialization

from jaxgan import config as config_lib
from jaxgan import recipes, tiling
from jaxgan.checkpoint import Checkpointer, fingerprint
from jaxgan.errors import CheckpointError, ConfigError


def _from_checkpoint(workdir: Path, step: int | str | None) -> tuple[recipes.Recipe, dict[str, Any], int]:
    config = config_lib.load_json(workdir / "config.json")
    recipe = recipes.build(config)
    checkpointer = Checkpointer(workdir / "checkpoints", asynchronous=False)
    try:
        steps = checkpointer.all_steps()
        if not steps:
            raise CheckpointError(f"no checkpoint in {workdir / 'checkpoints'}: train first")
        if step == "best":
            best = checkpointer.best()
            if best is None:
                raise CheckpointError(f"{workdir} has no best checkpoint: it is kept by runs trained with "
                                      f"--config.eval.metrics=fid (and --config.eval_every=N)")
            step = best["step"]
        if step is None:
            step = max(steps)
        elif step not in steps:
            raise CheckpointError(f"no checkpoint for step {step} in {workdir}; have {sorted(steps)}")
        device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        abstract = jax.eval_shape(recipe.init_state, jax.random.PRNGKey(0), recipe.example_batch())
        averaged = recipe.generator_names if abstract.ema else ()          # the moving average, where kept
        live = tuple(n for n in recipe.generator_names + recipe.auxiliary_names if n not in averaged)
        wanted = {"nets": {n: abstract.nets[n].variables for n in live}, "ema": {n: abstract.ema[n] for n in averaged}}
        target = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device),
                              {"train": {k: v for k, v in wanted.items() if v}})
        restored = checkpointer.restore_subset(step, target)["train"]
    finally:
        checkpointer.close()
    return recipe, {**restored.get("nets", {}), **restored.get("ema", {})}, step


def _abstract_generators(recipe: recipes.Recipe) -> dict[str, Any]:
    abstract = jax.eval_shape(recipe.init_state, jax.random.PRNGKey(0), recipe.example_batch())
    return recipe.generator_variables(abstract)


def _from_export(path: Path) -> tuple[recipes.Recipe, dict[str, Any], int]:
    try:
        record = serialization.msgpack_restore(path.read_bytes())
        config = ml_collections.ConfigDict(json.loads(record["config"]))
    except Exception as e:  # noqa: BLE001  msgpack / JSON / a file of another kind
        raise CheckpointError(f"{path} is not a generator file written by infer.py --export "
                              f"({type(e).__name__})") from None
    recipe = recipes.build(config)
    target = _abstract_generators(recipe)
    saved, expected = fingerprint(record["variables"]), fingerprint(target)
    if saved != expected:
        raise CheckpointError(f"{path} does not match its own config; was it written by another jaxgan version?")
    variables = serialization.from_state_dict(jax.tree.map(lambda x: np.zeros(x.shape, x.dtype), target),
                                              record["variables"])
    return recipe, dict(variables), int(record["step"])


def parse_step(text: str | None) -> int | str | None:
    """A ``--step`` flag's value: a step number, ``best``, or None (the latest); anything else is a
    `ConfigError`."""
    if text is None or text == "best":
        return text
    if not text.isdigit():
        raise ConfigError(f"--step takes a step number or best, not {text!r}")
    return int(text)


def load_generator(source: str | Path, step: int | str | None = None
                   ) -> tuple[recipes.Recipe, dict[str, Any], int]:
    """``(recipe, generator variables, step)`` from a workdir's latest (or given, or ``"best"``)
    checkpoint, or from a file `export_generator` wrote."""
    source = Path(source)
    if source.is_file():
        if step is not None:
            raise ConfigError(f"--step does not apply to an exported generator file ({source})")
        return _from_export(source)
    if not source.is_dir():
        raise ConfigError(f"{source} is not a jaxgan workdir or a generator file written by --export")
    return _from_checkpoint(source, step)


def export_generator(workdir: str | Path, path: str | Path, step: int | str | None = None) -> int:
    """Writes the generators' variables and the run's config (no discriminator, no optimiser state) to
    one msgpack file that `load_generator` reads; returns the step exported."""
    recipe, variables, step = load_generator(workdir, step)
    record = {"config": recipe.config.to_json_best_effort(), "step": step,
              "variables": serialization.to_state_dict(jax.device_get(variables))}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(serialization.msgpack_serialize(record))
    os.replace(tmp, path)
    return step


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
            recipe.check_choice(name, value)
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
        return tiling.upscale_tiled(self, image, self.spec.scale, tile - tile % self.spec.size_multiple, margin, batch)
