"""Is the input pipeline ever the bottleneck? For each recipe's default run (embedded data, the trainer
`train.py` builds), steps/s fed by its real tf.data stream against the same trainer fed one in-memory
batch again and again, and the stream alone (batches/s with no training running).

    python benchmarks/input_pipeline.py                          # every recipe, 20 timed steps each
    python benchmarks/input_pipeline.py --recipe dcgan gan --steps 50 --batch 128

``ratio`` = stream steps/s / in-memory steps/s (1.0: the pipeline costs nothing). The last column runs
the same in-memory steps as one `lax.scan` (one dispatch for all of them), which tells what several
steps per dispatch would gain (recipes whose step is the plain jitted `train_step`). The stream is timed
first, right after the warm-up steps, so its prefetch buffer starts in the state training keeps it in.
Needs TensorFlow (the pipeline is tf.data), unlike `bench.py`.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import load_config  # noqa: E402  (also puts the repository on sys.path)

RECIPES = ["gan", "dcgan", "wgan", "wgan_gp", "pix2pix", "cyclegan", "srgan", "stargan", "text2img"]


def _timed(run, steps: int, wait) -> float:
    """Seconds per call of ``run`` over ``steps`` calls, waiting for the device at the end."""
    start = time.perf_counter()
    for _ in range(steps):
        run()
    wait()
    return (time.perf_counter() - start) / steps


def measure(recipe: str, steps: int, warmup: int, batch: int | None, size: int | None) -> dict:
    import jax
    from jaxgan.train import Trainer

    config = load_config(recipe, {"evaluate": False, "ema_decay": 0.0}, batch, size)
    config.num_steps = 10 ** 9
    with tempfile.TemporaryDirectory() as workdir:
        trainer = Trainer(config, workdir)
        try:
            def wait():
                jax.block_until_ready(trainer.state)

            for _ in range(warmup):
                trainer.step()
            wait()
            stream = _timed(trainer.step, steps, wait)
            fixed = next(trainer.batches)
            memory = _timed(lambda: trainer.step(fixed), steps, wait)
            alone = _timed(lambda: next(trainer.batches), steps, lambda: None)
            scanned = _scanned_steps(trainer, fixed, steps)
        finally:
            trainer.close()
    return {"recipe": recipe, "image_size": config.image_size, "batch": config.batch_size,
            "stream_steps_s": 1 / stream, "memory_steps_s": 1 / memory, "ratio": memory / stream,
            "stream_alone_batches_s": 1 / alone, "scan_steps_s": 1 / scanned if scanned else None}


def _scanned_steps(trainer, local: dict, steps: int) -> float | None:
    """Seconds per step of ``steps`` in-memory steps run as one `lax.scan` (one dispatch), for recipes
    whose step is the plain jitted `train_step` (no host state, no phases); else None."""
    import jax

    from jaxgan import parallel
    from jaxgan.recipes.base import Recipe

    recipe = trainer.recipe
    if type(recipe).make_step is not Recipe.make_step:
        return None

    def many(state, batch):
        return jax.lax.scan(lambda s, _: (recipe.train_step(s, batch, {})[0], None), state, None, length=steps)[0]

    run = parallel.jit_sharded(many, trainer.mesh, (parallel.REPLICATED, parallel.BATCH), parallel.REPLICATED,
                               donate_argnums=0)
    with jax.set_mesh(trainer.mesh):
        batch = parallel.global_batch(local, trainer.mesh)
        state = jax.block_until_ready(run(trainer.state, batch))            # compiles
        start = time.perf_counter()
        jax.block_until_ready(run(state, batch))
    return (time.perf_counter() - start) / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", nargs="+", choices=RECIPES, default=RECIPES)
    p.add_argument("--steps", type=int, default=20, help="timed steps in each mode")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps, the first one compiles")
    p.add_argument("--batch", type=int, default=None, help="batch size (default: the recipe's)")
    p.add_argument("--size", type=int, default=None, help="image size (default: the recipe's)")
    args = p.parse_args()
    from jaxgan.cli import use_compile_cache
    use_compile_cache("auto")
    rows = [measure(r, args.steps, args.warmup, args.batch, args.size) for r in args.recipe]
    print(f"{'recipe':10} {'size':>5} {'batch':>5} {'stream steps/s':>15} {'in-memory steps/s':>18} "
          f"{'ratio':>6} {'stream alone batches/s':>23} {'in-memory, one dispatch steps/s':>32}")
    for r in rows:
        scan = f"{r['scan_steps_s']:32.2f}" if r["scan_steps_s"] else f"{'n/a':>32}"
        print(f"{r['recipe']:10} {r['image_size']:5d} {r['batch']:5d} {r['stream_steps_s']:15.2f} "
              f"{r['memory_steps_s']:18.2f} {r['ratio']:6.2f} {r['stream_alone_batches_s']:23.1f} {scan}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
