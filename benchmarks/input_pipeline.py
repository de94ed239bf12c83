"""Is the input pipeline ever the bottleneck? For each recipe's default run (embedded data, the trainer
`train.py` builds), steps/s fed by its real tf.data stream against the same trainer fed one in-memory
batch again and again, and the stream alone (batches/s with no training running).

    python benchmarks/input_pipeline.py                          # every recipe, 20 timed steps each
    python benchmarks/input_pipeline.py --recipe dcgan gan --steps 50 --batch 128

``ratio`` = stream steps/s / in-memory steps/s (1.0: the pipeline costs nothing). The stream is timed
first, right after the warm-up steps, so its prefetch buffer starts in the state training keeps it in.
The last column runs the stream as `train.py` does with ``--per-dispatch`` steps in each dispatch
(``config.steps_per_dispatch``; each step's metrics summed on the device as well; recipes whose
iterations need the host, CycleGAN, have none).
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


def measure(recipe: str, steps: int, warmup: int, batch: int | None, size: int | None, per_dispatch: int) -> dict:
    import jax
    from jaxgan.train import Trainer

    config = load_config(recipe, {"evaluate": False, "ema_decay": 0.0}, batch, size)
    config.num_steps = config.log_every = config.sample_every = config.checkpoint_every = 10 ** 9
    config.steps_per_dispatch = per_dispatch
    with tempfile.TemporaryDirectory() as workdir:
        trainer = Trainer(config, workdir)
        try:
            acc = None

            def advance(count: int) -> None:
                nonlocal acc
                acc = trainer.advance(count, acc)

            def wait():
                jax.block_until_ready((trainer.state, acc))

            for _ in range(warmup):
                trainer.step()
            wait()
            stream = _timed(trainer.step, steps, wait)
            dispatched = None
            if per_dispatch > 1 and trainer.recipe.update(1) is not None:
                for _ in range(max(warmup, 3)):                           # the first compiles
                    advance(per_dispatch)
                wait()
                dispatched = _timed(lambda: advance(per_dispatch), max(1, steps // per_dispatch), wait) / per_dispatch
            fixed = next(trainer.batches)
            memory = _timed(lambda: trainer.step(fixed), steps, wait)
            alone = _timed(lambda: next(trainer.batches), steps, lambda: None)
        finally:
            trainer.close()
    return {"recipe": recipe, "image_size": config.image_size, "batch": config.batch_size,
            "stream_steps_s": 1 / stream, "memory_steps_s": 1 / memory, "ratio": memory / stream,
            "stream_alone_batches_s": 1 / alone, "per_dispatch": per_dispatch,
            "dispatched_steps_s": 1 / dispatched if dispatched else None}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", nargs="+", choices=RECIPES, default=RECIPES)
    p.add_argument("--steps", type=int, default=20, help="timed steps in each mode")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps, the first one compiles")
    p.add_argument("--batch", type=int, default=None, help="batch size (default: the recipe's)")
    p.add_argument("--size", type=int, default=None, help="image size (default: the recipe's)")
    p.add_argument("--per-dispatch", type=int, default=10, help="steps per dispatch in the last column")
    args = p.parse_args()
    from jaxgan.cli import use_compile_cache
    use_compile_cache("auto")
    rows = [measure(r, args.steps, args.warmup, args.batch, args.size, args.per_dispatch) for r in args.recipe]
    print(f"{'recipe':10} {'size':>5} {'batch':>5} {'stream steps/s':>15} {'in-memory steps/s':>18} "
          f"{'ratio':>6} {'stream alone batches/s':>23} {f'stream, {args.per_dispatch} per dispatch steps/s':>32}")
    for r in rows:
        scan = f"{r['dispatched_steps_s']:32.2f}" if r["dispatched_steps_s"] else f"{'n/a':>32}"
        print(f"{r['recipe']:10} {r['image_size']:5d} {r['batch']:5d} {r['stream_steps_s']:15.2f} "
              f"{r['memory_steps_s']:18.2f} {r['ratio']:6.2f} {r['stream_alone_batches_s']:23.1f} {scan}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
