"""Loading a trained generator from a workdir, for infer.py and evaluation."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import jax

from jaxgan import config as config_lib
from jaxgan import recipes
from jaxgan.checkpoint import Checkpointer
from jaxgan.errors import CheckpointError
from jaxgan.nn import set_conv_impl


def load_generator(workdir: str | Path, step: int | None = None) -> tuple[recipes.Recipe, dict[str, Any], int]:
    """``(recipe, generator variables, step)`` from the latest (or the given) checkpoint of ``workdir``."""
    workdir = Path(workdir)
    config = config_lib.load_json(workdir / "config.json")
    set_conv_impl(config.get("conv_impl", "auto"))
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
        target = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device), abstract)
        state, _, _ = checkpointer.restore(step, target)
    finally:
        checkpointer.close()
    return recipe, recipe.generator_variables(state), step
