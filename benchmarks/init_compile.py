"""Compile time of each recipe's initial state (`Recipe.init_state`, as `train.py` jits it) at the
reference sizes, with the parameter keys `init_net` uses or with JAX's threefry keys for comparison.

    python benchmarks/init_compile.py                       # every recipe, both kinds of keys
    python benchmarks/init_compile.py --model srgan --keys hashed

Each measurement runs in a process of its own with the compilation cache off. Runs without TensorFlow.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("dcgan", "wgan", "pix2pix", "cyclegan", "stargan", "srgan", "text2img")


def measure(model: str, keys: str) -> tuple[float, float]:
    """(lowering s, compile s) of ``model``'s initial state, in this process."""
    sys.path.insert(0, str(ROOT))
    import jax

    from jaxgan import data, parallel, recipes
    from jaxgan.config import shipped_config
    from jaxgan.nn import init_keys
    from jaxgan.parallel import BATCH, REPLICATED

    if keys == "threefry":
        init_keys.init_key = lambda rng: rng           # init_net then passes the raw threefry key to Flax
    config = data.resolve(shipped_config(model), None)         # e.g. text2img's vocabulary, from its data
    recipe = recipes.build(config)
    mesh = parallel.make_mesh(jax.devices()[:1])
    init = parallel.jit_sharded(recipe.init_state, mesh, (REPLICATED, BATCH), REPLICATED)
    with jax.set_mesh(mesh):
        start = time.perf_counter()
        lowered = init.lower(jax.random.PRNGKey(0), recipe.example_batch(config.batch_size))
        lowered_at = time.perf_counter()
        lowered.compile()
    return lowered_at - start, time.perf_counter() - lowered_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--keys", nargs="+", choices=("hashed", "threefry"), default=["hashed", "threefry"])
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)          # model keys: measure in this process
    args = parser.parse_args()
    if args.one:
        print(*(f"{t:.2f}" for t in measure(*args.one)))
        return
    print("| model | keys | lowering s | compile s |\n|---|---|---|---|")
    for model in args.model:
        for keys in args.keys:
            env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}     # cache off
            done = subprocess.run([sys.executable, __file__, "--one", model, keys], capture_output=True, text=True,
                                  env=env)
            if done.returncode:
                print(f"| {model} | {keys} | failed: {done.stderr.strip().splitlines()[-1]} | |")
                continue
            lowering, compiling = done.stdout.split()
            print(f"| {model} | {keys} | {lowering} | {compiling} |", flush=True)


if __name__ == "__main__":
    main()
