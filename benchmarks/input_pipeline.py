"""Can the input pipeline feed the accelerator? Two measurements.

``--data embedded`` (default): each recipe's default training (embedded data, the trainer `train.py`
builds) fed by its real tf.data stream, against the same trainer fed one in-memory batch again and
again, and the stream alone (batches/s with no training running)::

    python benchmarks/input_pipeline.py                          # every recipe, 20 timed steps each
    python benchmarks/input_pipeline.py --recipe dcgan gan --steps 50 --batch 128

``ratio`` = stream steps/s / in-memory steps/s (1.0: the pipeline costs nothing). The last column runs
the stream as `train.py` does with ``--per-dispatch`` steps in each dispatch (``config.steps_per_dispatch``;
recipes whose iterations need the host, CycleGAN, have none).

``--data folder prepared service``: real-shaped data sets, synthetic but of the real file counts, sizes
and formats, built once under ``--data-dir`` (default ``~/.cache/jaxgan/bench_data``) and each prepared
once with `python -m jaxgan.prepare`: ``div2k`` (800 PNGs of 2040x1356, SRGAN at HR 96, batch 16),
``celeba`` (``--celeba-files`` JPEGs of 178x218, default 50,000; DCGAN at 64x64, batch 64),
``horse2zebra`` (1,067 + 1,334 JPEGs of 256x256, CycleGAN at 256 from 286, batch 1) and ``facades`` (400
side-by-side 512x256 JPEGs, pix2pix at 256 from 286, batch 1)::

    python benchmarks/input_pipeline.py --data folder prepared --datasets div2k celeba

Each figure is a fresh process of the training stream alone (`jaxgan.data.train_batches`, the recipe's
fields, sizes and augmentation): start-up = seconds from building the stream to its first batch, with
an empty folder index cache and with the cache of an earlier start; examples/s on every core, and per
core (the process pinned to one CPU with ``taskset``). ``service`` runs a tf.data service dispatcher and
one worker on this machine (what it measures here is the service's overhead, not more cores).

Demand: what one H200 consumes at 35% MFU, from the step's FLOPs as `benchmarks/bench.py` counts them
(XLA's cost analysis, cached in ``--data-dir``): demand = 0.35 x 790e12 FLOP/s x batch / FLOP per step
examples/s (790 TFLOP/s: bf16 dense matmuls measured on such a machine). ``supply/demand`` = 16 x the
per-core rate / demand, for the 16 cores such a host has.

``--repo DIR`` measures another checkout's pipeline with the same data (e.g. the code before a change).
Needs TensorFlow (the pipeline is tf.data), unlike `bench.py`.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

RECIPES = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "configs").glob("*.py"))
ROOT = Path(__file__).resolve().parents[1]
H200_TFLOPS, MFU, HOST_CORES = 790.0, 0.35, 16

# ------------------------------------------------------------------------------ embedded sets, with training


def _timed(run, steps: int, wait) -> float:
    """Seconds per call of ``run`` over ``steps`` calls, waiting for the device at the end."""
    start = time.perf_counter()
    for _ in range(steps):
        run()
    wait()
    return (time.perf_counter() - start) / steps


def measure(recipe: str, steps: int, warmup: int, batch: int | None, size: int | None, per_dispatch: int) -> dict:
    import jax
    from bench import load_config                    # (bench also puts the repository on sys.path)
    from jaxgan.train import Trainer

    config = load_config(recipe, "", {"evaluate": False, "ema_decay": 0.0}, batch, size)
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


def embedded_table(args) -> None:
    sys.path.insert(0, str(ROOT))
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


# --------------------------------------------------------------------------- real-shaped data sets, stream alone
def _photo(height: int, width: int, noise: float, seed: int):
    """A photo-like uint8 RGB image: a smooth random field plus grain (PNGs of DIV2K's size compress to
    about DIV2K's 4.6 MB at noise 3; 178x218 JPEGs at quality 90 to about CelebA's 10 KB at noise 5)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (max(2, height // 32), max(2, width // 32), 3), dtype=np.uint8)
    image = np.asarray(Image.fromarray(base).resize((width, height), Image.BICUBIC), np.float32)
    return np.clip(image + rng.normal(0, noise, image.shape), 0, 255).astype(np.uint8)


def _write_one(task: tuple) -> None:
    from PIL import Image

    path, height, width, noise, seed, kind = task
    image = _photo(height, width, noise, seed)
    if kind == "side_by_side":                   # A: an edge-like rendering of B, side by side
        edges = 255 - (image.astype(int).std(axis=2, keepdims=True) * 8).clip(0, 255).astype("uint8").repeat(3, 2)
        import numpy as np
        image = np.concatenate([edges, image], axis=1)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if path.endswith(".png"):
        Image.fromarray(image).save(path)
    else:
        Image.fromarray(image).save(path, quality=90)


def _dataset_tasks(name: str, root: Path, celeba_files: int) -> list[tuple]:
    if name == "div2k":
        return [(str(root / "train" / f"{i:04d}.png"), 1356, 2040, 3, i, "photo") for i in range(800)]
    if name == "celeba":
        return [(str(root / f"{i // 10000:02d}" / f"{i:06d}.jpg"), 218, 178, 5, i, "photo") for i in range(celeba_files)]
    if name == "horse2zebra":
        counts = {"trainA": 1067, "trainB": 1334, "testA": 120, "testB": 140}
        return [(str(root / folder / f"{i:04d}.jpg"), 256, 256, 5, hash((folder, i)) % 2**31, "photo")
                for folder, n in counts.items() for i in range(n)]
    if name == "facades":
        return [(str(root / split / f"{i:03d}.jpg"), 256, 256, 5, i + (10000 if split == "test" else 0), "side_by_side")
                for split, n in (("train", 400), ("test", 106)) for i in range(n)]
    raise ValueError(name)


#: data set -> (bench.py model whose sizes and batch it trains, data config overrides)
DATASETS = {
    "div2k": ("srgan", {"data.source": "folder", "data.layout": "hr", "data.eval_split": "test"}),
    "celeba": ("dcgan", {"data.source": "folder", "data.layout": "single", "data.random_flip": True}),
    "horse2zebra": ("cyclegan", {"data.source": "folder", "data.layout": "unpaired", "data.load_size": 286,
                                 "data.random_flip": True}),
    "facades": ("pix2pix", {"data.source": "folder", "data.layout": "side_by_side", "data.resize": "crop",
                            "data.load_size": 286, "data.random_flip": True}),
}


def build_dataset(name: str, data_dir: Path, celeba_files: int) -> Path:
    """The synthetic folder of data set ``name``, built once (a ``.complete`` marker says it is whole)."""
    import multiprocessing

    root = data_dir / (f"{name}-{celeba_files}" if name == "celeba" else name)
    if (root / ".complete").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    tasks = _dataset_tasks(name, root, celeba_files)
    start = time.perf_counter()
    with multiprocessing.Pool(os.cpu_count()) as pool:
        for done, _ in enumerate(pool.imap_unordered(_write_one, tasks, chunksize=16), 1):
            if done % 2000 == 0 or done == len(tasks):
                print(f"  {name}: {done}/{len(tasks)} files ({time.perf_counter() - start:.0f} s)", flush=True)
    (root / ".complete").touch()
    return root


def _config(name: str, data_path: str, source: str):
    """The config a data set's row trains with (bench.py's reference sizes for its model)."""
    from bench import MODELS, load_config

    model, data = DATASETS[name]
    config_name, variant, overrides = MODELS[model]
    config = load_config(config_name, variant, {**overrides, **data})
    config.data.path = data_path
    config.data.source = source
    config.evaluate = False
    if source == "prepared":
        config.data.layout = ""
    return config


def stream_child(args) -> None:
    """One measurement in this process: the start-up and rate of a data set's training stream."""
    sys.path.insert(0, str(args.repo))
    from jaxgan import data, recipes               # this checkout's, before bench.py puts its own on the path
    from jaxgan.data.tf_host import tensorflow

    tensorflow()                                   # start-up below is the data's, not TensorFlow's import
    config = _config(args.dataset, args.path, args.source)
    servers = []                                   # a local tf.data service, held while the stream runs
    if args.service:
        from jaxgan.data import service

        servers.append(service.start_dispatcher())
        config.data.service = servers[0].target.split("://")[-1]
        servers.append(service.start_worker(config.data.service))
    recipe = recipes.build(config)
    per_batch = config.batch_size * recipe.examples_per_row
    start = time.perf_counter()
    stream = data.train_batches(config, recipe.data_spec, recipe.examples_per_row, 0)
    next(stream)
    startup = time.perf_counter() - start
    for _ in range(args.warmup):
        next(stream)
    start = time.perf_counter()
    for _ in range(args.batches):
        next(stream)
    rate = args.batches * per_batch / (time.perf_counter() - start)
    print(json.dumps({"startup_s": round(startup, 2), "examples_per_s": round(rate, 1)}), flush=True)
    os._exit(0)                  # a live tf.data stream can hold the interpreter's exit


def _child(args, name: str, path: Path, source: str, cache: Path, one_core: bool, service: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--child", "--dataset", name, "--path", str(path), "--source", source,
           "--repo", str(args.repo), "--batches", str(args.batches), "--warmup", str(args.warmup)]
    if service:
        cmd += ["--service", "local"]
    if one_core:
        cmd = ["taskset", "-c", "0"] + cmd
    env = dict(os.environ, JAXGAN_CACHE_DIR=str(cache), TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(f"{name} {source} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def step_gflop(model: str, data_dir: Path) -> float:
    """GFLOP per step of bench.py's ``model`` at its reference size, as bench.py counts them (cached)."""
    cache = data_dir / "step_gflop.json"
    known = json.loads(cache.read_text()) if cache.exists() else {}
    if model not in known:
        cmd = [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--jax-row", "--model", model, "--steps", "1",
               "--warmup", "1"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"bench.py --model {model} failed:\n{done.stderr[-2000:]}")
        known[model] = json.loads(done.stdout.strip().splitlines()[-1])["gflop_per_step"]
        cache.write_text(json.dumps(known, indent=1))
    return float(known[model])


def _prepared(name: str, folder: Path, data_dir: Path) -> tuple[Path, float | None]:
    """The prepared set of ``folder`` (made once with `python -m jaxgan.prepare`) and the seconds that took
    (None where it existed)."""
    from bench import MODELS

    out = data_dir / "prepared" / folder.name
    if (out / "manifest.json").exists():
        return out, None
    model, data = DATASETS[name]
    config_name, variant, overrides = MODELS[model]
    flags = [f"--config.{k}={v}" for k, v in {**overrides, **data}.items() if not isinstance(v, (tuple, list))]
    cmd = [sys.executable, "-m", "jaxgan.prepare", "--config", f"configs/{config_name}.py:{variant}", *flags,
           f"--config.data.path={folder}", "--overwrite", str(out)]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"preparing {name} failed:\n{done.stderr[-3000:]}")
    return out, time.perf_counter() - start


def real_table(args) -> None:
    from bench import MODELS, load_config

    args.data_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.datasets:
        folder = build_dataset(name, args.data_dir, args.celeba_files)
        model = DATASETS[name][0]
        batch = load_config(*MODELS[model]).batch_size
        files = sum(1 for _ in folder.rglob("*.*") if _.suffix in (".png", ".jpg"))
        demand = MFU * H200_TFLOPS * 1e12 * batch / (step_gflop(model, args.data_dir) * 1e9)
        for mode in args.data:
            path, prepare_s, source = folder, None, "folder"
            if mode in ("prepared", "service") and args.repo == ROOT:
                path, prepare_s = _prepared(name, folder, args.data_dir)
                source = "prepared"
            with tempfile.TemporaryDirectory() as cache:
                cold = _child(args, name, path, source, Path(cache), False, mode == "service")
                warm = _child(args, name, path, source, Path(cache), False, mode == "service")
                one = _child(args, name, path, source, Path(cache), True, mode == "service")
            row = {"dataset": name, "model": model, "mode": mode, "files": files, "prepare_s": prepare_s,
                   "startup_first_s": cold["startup_s"], "startup_cached_s": warm["startup_s"],
                   "examples_per_s": warm["examples_per_s"], "per_core": one["examples_per_s"],
                   "demand": round(demand), "supply_over_demand": round(HOST_CORES * one["examples_per_s"] / demand, 2)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\n| data | recipe | source | files | start-up s (first / cached) | examples/s ({os.cpu_count()} cores) | "
          f"examples/s per core | H200 demand (35% MFU) | per core needed ({HOST_CORES} cores) | "
          f"supply/demand ({HOST_CORES} cores) |")
    print("|---" * 10 + "|")
    for r in rows:
        print(f"| {r['dataset']} | {r['model']} | {r['mode']} | {r['files']} | {r['startup_first_s']} / "
              f"{r['startup_cached_s']} | {r['examples_per_s']:.0f} | {r['per_core']:.0f} | {r['demand']} | "
              f"{r['demand'] / HOST_CORES:.0f} | {r['supply_over_demand']} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", nargs="+", default=["embedded"], choices=["embedded", "folder", "prepared", "service"])
    p.add_argument("--recipe", nargs="+", choices=RECIPES, default=RECIPES, help="--data embedded: the recipes")
    p.add_argument("--steps", type=int, default=20, help="--data embedded: timed steps in each mode")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps (batches), the first one compiles")
    p.add_argument("--batch", type=int, default=None, help="--data embedded: batch size (default: the recipe's)")
    p.add_argument("--size", type=int, default=None, help="--data embedded: image size (default: the recipe's)")
    p.add_argument("--per-dispatch", type=int, default=10, help="--data embedded: steps per dispatch in the last column")
    p.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    p.add_argument("--data-dir", type=Path, default=Path.home() / ".cache" / "jaxgan" / "bench_data")
    p.add_argument("--celeba-files", type=int, default=50_000)
    p.add_argument("--batches", type=int, default=30, help="timed batches of each stream")
    p.add_argument("--repo", type=Path, default=ROOT, help="the checkout whose pipeline is measured")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--dataset", help=argparse.SUPPRESS)
    p.add_argument("--path", help=argparse.SUPPRESS)
    p.add_argument("--source", help=argparse.SUPPRESS)
    p.add_argument("--service", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.repo = args.repo.resolve()
    if args.child:
        stream_child(args)
    elif args.data == ["embedded"]:
        embedded_table(args)
    else:
        real_table(args)


if __name__ == "__main__":
    main()
