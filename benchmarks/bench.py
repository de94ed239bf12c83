"""Training-step throughput of jaxgan's recipes, side by side with the PyTorch reference.

    python benchmarks/bench.py                      # every model at its reference size
    python benchmarks/bench.py --model dcgan wgan --steps 20 --no-torch

For each model, in a process of its own: compute dtype (``--dtype``, default auto: bfloat16 on GPU/TPU, float32 on CPU), compile
time, median step time, images/s, peak memory (device memory on GPU, process RSS on CPU), the step's
FLOPs (XLA's cost analysis of the compiled step), the TFLOP/s they run at and MFU (over this device's
measured large-matmul speed in the same dtype, printed under the table), and, when torch is installed,
the PyTorch reference (`benchmarks/torch_reference.py`, or ``--torch-reference FILE``) run in the same
invocation with the same model, size and batch:
eager, plus torch.compile where CUDA is available (``--torch-compile on`` anywhere);
``ratio`` = our images/s / PyTorch's (> 1: jaxgan is faster). A step is one generator update with all
its discriminator updates (WGAN: n_critic = 5), on a fixed synthetic batch, as in the reference; it is
the recipe's `make_step`, exactly what the trainer runs (CycleGAN's host image pool included; StarGAN:
its n_critic = 5 critic updates each on its
own real batch, where the reference reuses one; text2img: GAN-CLS + GAN-INT on 1024-d fixed embeddings as
the reference, and ``text2img_words`` the same with our word encoder, timed against the same reference). SRGAN's and
ESRGAN's VGG19 get random weights (timing only), and their rows add x4 inference speed in output
megapixels/s (``upscale_mp_s``: SRResNet on one 128 x 128 LR tile, RRDBNet with 23 blocks on 256 x 256;
the torch reference's the same network in PyTorch).
``--model inception`` times FID's Inception feature extraction instead (random weights; images/s at
``--batch``, default 200, 299x299 inputs, float32), the cost of every FID / KID / IS figure, beside
pytorch-fid's network in the torch reference; ``--model fid`` the
FID of ``--fid-images`` (10,000) vs as many images end to end, compilation included.
``--devices 1 2 4 8`` measures weak scaling instead: each model's step on the first N devices with
``--batch`` (default: the reference batch) images per device, N times that in all, and a table of
images/s per device and its fraction of the one-device figure (on CPU the N devices are XLA's virtual
host devices, which share the machine's cores: there the table shows what splitting the batch costs,
not a speed-up).
Runs without TensorFlow (the accelerator machines have none).
"""
from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from jaxgan.config import set_field, shipped_config  # noqa: E402
TORCH_REFERENCE = ROOT / "benchmarks" / "torch_reference.py"

# row -> (config file, its variant, overrides): each recipe's paper setting, as torch_reference.py builds it
MODELS = {
    "dcgan": ("dcgan", "paper", {}),
    "wgan": ("wgan", "paper", {}),
    "pix2pix": ("pix2pix", "paper", {}),
    "cyclegan": ("cyclegan", "paper", {}),
    "srgan": ("srgan", "paper", {"pretrain_steps": 0}),        # the SRGAN phase (D + G with the VGG54 loss)
    "esrgan": ("esrgan", "paper", {"pretrain_steps": 0}),      # the GAN phase (RaGAN, VGG54 before the ReLU, L1)
    "stargan": ("stargan", "paper", {}),
    "text2img": ("text2img", "paper", {}),
    # the same with our word encoder trained alongside D (a 5,000-word vocabulary, 16-word captions)
    "text2img_words": ("text2img", "paper", {"model.text_encoder": "words", "model.text_dim": 256,
                                             "data.vocabulary": tuple(f"w{i}" for i in range(5000))}),
}
#: the torch reference's model for each row (text2img_words is timed against the reference's fixed embeddings)
TORCH_MODEL = {"text2img_words": "text2img"}
UPSCALE_TILES = {"srgan": 128, "esrgan": 256}      # x4 inference rows: the LR tile's side


def load_config(name: str, variant: str = "", overrides: dict | None = None, batch: int | None = None,
                size: int | None = None):
    """``configs/<name>.py:<variant>`` with ``overrides`` (dotted), and ``batch`` / ``size`` where given."""
    c = shipped_config(name, variant)
    for key, value in (overrides or {}).items():
        set_field(c, key, value)
    c.image_size = size or c.image_size
    c.batch_size = batch or c.batch_size
    if "num_downs" in c.model and size:         # a U-Net needs sides divisible by 2**num_downs
        c.model.num_downs = min(c.model.num_downs, size.bit_length() - 1)
    return c


class StepCost:
    """Records the abstract arguments of every function `jaxgan.parallel.jit_sharded` jits while
    installed, so XLA's cost analysis can give the FLOPs of exactly what one step runs (CycleGAN: its
    G and D updates; SRGAN: the phase the step is in)."""

    def __init__(self, parallel):
        self.parallel, self.original, self.calls = parallel, parallel.jit_sharded, {}

    def __enter__(self) -> "StepCost":
        def recording_jit(fn, *args, **kwargs):
            jitted = self.original(fn, *args, **kwargs)

            def call(*inputs):
                import jax

                self.calls.setdefault(id(jitted), (jitted, jax.tree.map(
                    lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=getattr(x, "sharding", None)), inputs)))
                return jitted(*inputs)
            return call

        self.parallel.jit_sharded = recording_jit
        return self

    def __exit__(self, *exc) -> None:
        self.parallel.jit_sharded = self.original

    def flops(self) -> float:
        """The FLOPs one device runs in one call of each recorded function, summed (XLA's cost analysis of
        the partitioned program: a batch-sharded product counts its share, a replicated one in full)."""
        total = 0.0
        for jitted, abstract in self.calls.values():
            cost = jitted.lower(*abstract).compile().cost_analysis()
            cost = cost[0] if isinstance(cost, (list, tuple)) else cost
            total += float(cost.get("flops", 0.0))
        return total


@functools.lru_cache(maxsize=None)
def matmul_peak_tflops(dtype: str) -> float:
    """This device's speed on a large square matrix multiply in ``dtype`` (TFLOP/s): the peak MFU is
    measured against, on CPU and GPU alike (a figure the hardware demonstrably reaches, where spec sheets
    differ by clock, power limit and sparsity)."""
    import jax
    import jax.numpy as jnp

    n = 2048 if jax.default_backend() == "cpu" else 8192
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.dtype(dtype))
    matmul = jax.jit(lambda x: x @ x)
    jax.block_until_ready(matmul(a))
    times = []
    for _ in range(5):
        t = time.perf_counter()
        jax.block_until_ready(matmul(a))
        times.append(time.perf_counter() - t)
    return 2 * n ** 3 / min(times) / 1e12


def peak_memory_mb(jax) -> float:
    stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        return stats["peak_bytes_in_use"] / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024     # CPU: process peak RSS


def bench_jax(name: str, args) -> dict:
    import jax
    import numpy as np

    from jaxgan import parallel, recipes
    from jaxgan.recipes.base import model_options

    config = load_config(*MODELS[name], args.batch, args.size)
    config.model.conv_impl = args.conv_impl
    config.model.dtype = args.dtype
    devices = jax.devices()[:args.num_devices] if args.num_devices else jax.devices()
    if args.num_devices and len(devices) < args.num_devices:
        sys.exit(f"--devices {args.num_devices}: this machine has {len(devices)} {devices[0].platform} device(s)")
    if "vgg_weights" in config:                # a VGG19 content loss: random weights of the real file's layout
        from jaxgan.models.vgg import write_random_vgg19_h5

        config.vgg_weights = str(Path(tempfile.mkdtemp()) / "vgg19_random.h5")
        write_random_vgg19_h5(config.vgg_weights)
    recipe = recipes.build(config)
    dtype = model_options(config)["dtype"]
    mesh = parallel.make_mesh(devices)
    rng = np.random.default_rng(0)
    images = {k: rng.integers(0, 2, v.shape).astype(v.dtype) if k in recipe.label_fields
              else np.tanh(rng.standard_normal(v.shape, np.float32))
              for k, v in recipe.example_batch(config.batch_size).items()}
    with jax.set_mesh(mesh):
        batch = parallel.global_batch(images, mesh)
        init = parallel.jit_sharded(recipe.init, mesh, (parallel.REPLICATED, parallel.BATCH), parallel.REPLICATED)
        state = init(jax.random.PRNGKey(0), batch)
        host = recipe.init_host_state(images)
        frozen = jax.device_put({k: net.load() for k, net in recipe.frozen_networks().items()},
                                parallel.replicated(mesh))
        number = config.num_steps                  # the last phase (SRGAN: the GAN phase)
        with StepCost(parallel) as cost:           # what the first step jits
            step = recipe.make_step(mesh, frozen)  # exactly what the trainer runs (CycleGAN: pool included)
            t0 = time.perf_counter()
            state, host, metrics = step(number, state, batch, host)
            jax.block_until_ready(metrics)
            first_s = time.perf_counter() - t0
        device_flops = cost.flops()
        for _ in range(args.warmup - 1):
            state, host, metrics = step(number, state, batch, host)
        jax.block_until_ready(metrics)
        times = []
        for _ in range(args.steps):
            t = time.perf_counter()
            state, host, metrics = step(number, state, batch, host)
            jax.block_until_ready(metrics)
            times.append(time.perf_counter() - t)
    med = statistics.median(times)
    achieved = device_flops / med / 1e12                   # per device
    n = len(devices)
    row = {"framework": "jax", "model": name, "device": devices[0].device_kind, "num_devices": n,
           "size": config.image_size, "batch": config.batch_size,
           "dtype": dtype.name, "conv_impl": args.conv_impl, "compile_s": round(first_s - med, 2),
           "step_s": round(med, 5), "images_per_s": float(f"{config.batch_size / med:.3g}"),
           "peak_memory_mb": round(peak_memory_mb(jax), 1), "gflop_per_step": round(device_flops * n / 1e9, 2),
           "tflop_s": round(achieved * n, 3)}
    if name in UPSCALE_TILES:
        variables = recipe.generator_variables(state)
        upscale = jax.jit(recipe.predict)
        side = row["upscale_tile"] = UPSCALE_TILES[name]
        tile = np.tanh(rng.standard_normal((1, side, side, 3), np.float32))
        row["upscale_mp_s"] = round(recipe.scale ** 2 * side ** 2 / 1e6 /
                                    _median_seconds(lambda: upscale(variables, tile), args), 3)
    return row


def bench_inception(args) -> dict:
    """FID's Inception feature extraction, as `jaxgan.metrics.image_sets` runs it (random weights)."""
    import jax
    import numpy as np

    from jaxgan.models.inception import FIDInceptionV3

    model, batch = FIDInceptionV3(), args.batch or 200
    variables = model.init(jax.random.PRNGKey(0), np.zeros((1, 75, 75, 3), np.float32))
    apply = jax.jit(model.apply)
    images = np.random.default_rng(0).random((batch, 299, 299, 3), dtype=np.float32)
    t0 = time.perf_counter()
    jax.block_until_ready(apply(variables, images))
    first_s = time.perf_counter() - t0
    med = _median_seconds(lambda: apply(variables, images), args)
    return {"framework": "jax", "model": "inception", "device": jax.devices()[0].device_kind,
            "num_devices": jax.device_count(), "size": 299, "batch": batch, "compile_s": round(first_s - med, 2),
            "step_s": round(med, 5), "images_per_s": float(f"{batch / med:.3g}"),
            "peak_memory_mb": round(peak_memory_mb(jax), 1)}


def bench_fid(args) -> dict:
    """FID of ``--fid-images`` vs as many images end to end, as `infer.py --evaluate` and training run it
    (`image_sets.extract`: resize to 299, Inception sharded over the devices, float64 statistics, the
    Frechet distance), compilation included; random 64x64 images and random weights."""
    import jax
    import numpy as np

    from jaxgan.metrics import image_sets
    from jaxgan.metrics.frechet import frechet_distance_from_stats
    from jaxgan.models.inception import FIDInceptionV3

    n, batch = args.fid_images, args.batch or 200
    variables = FIDInceptionV3().init(jax.random.PRNGKey(0), np.zeros((1, 75, 75, 3), np.float32))

    def images(seed: int):
        rng = np.random.default_rng(seed)
        for _ in range(n):
            yield rng.random((64, 64, 3), dtype=np.float32)

    t0 = time.perf_counter()
    a, b = (image_sets.extract(images(seed), variables, batch, total=n) for seed in (1, 2))
    t1 = time.perf_counter()
    frechet_distance_from_stats(a.mu, a.sigma, b.mu, b.sigma)
    t2 = time.perf_counter()
    return {"framework": "jax", "model": "fid", "device": jax.devices()[0].device_kind,
            "num_devices": jax.device_count(), "images": 2 * n, "batch": batch, "total_s": round(t2 - t0, 2),
            "features_s": round(t1 - t0, 2), "frechet_s": round(t2 - t1, 2),
            "images_per_s": float(f"{2 * n / (t2 - t0):.3g}"), "peak_memory_mb": round(peak_memory_mb(jax), 1)}


def _median_seconds(run, args) -> float:
    import jax

    for _ in range(args.warmup):
        jax.block_until_ready(run())
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        jax.block_until_ready(run())
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_torch(name: str, args, size: int, batch: int, compiled: bool = False, upscale: int = 0) -> dict | None:
    """The torch reference's step for ``name`` (eager, or wrapped in torch.compile), and with ``upscale`` its
    x4 inference speed (eager) on an LR tile of that side, or None without torch."""
    if args.no_torch or importlib.util.find_spec("torch") is None:
        return None
    cmd = [sys.executable, str(args.torch_reference), "--model", TORCH_MODEL.get(name, name), "--size", str(size),
           "--batch", str(batch), "--steps", str(args.steps), "--warmup", str(args.warmup)]
    row = _last_json(cmd + (["--compile"] if compiled else []), deadline=args.deadline)
    if upscale and not compiled and args.torch_reference == TORCH_REFERENCE:
        row["upscale_mp_s"] = _last_json(cmd[:4] + ["--upscale-tile", str(upscale), "--steps", str(args.steps),
                                                    "--warmup", str(args.warmup)], deadline=args.deadline)["upscale_mp_s"]
    return row


def _jax_row(name: str, args, num_devices: int | None = None) -> dict:
    """`bench_jax` (or `bench_inception`) of ``name`` in a fresh process, so that its peak memory and
    compile time are its own (a process's peak RSS and device peak only ever grow); with
    ``num_devices``, on that many devices with ``--batch`` (default: the reference batch) per device."""
    cmd = [sys.executable, __file__, "--jax-row", "--model", name, "--steps", str(args.steps), "--warmup",
           str(args.warmup), "--conv-impl", args.conv_impl, "--dtype", args.dtype]
    batch = args.batch
    if num_devices:
        batch = (args.batch or load_config(*MODELS[name], None, args.size).batch_size) * num_devices
        cmd += ["--num-devices", str(num_devices)]
    for flag, value in (("--size", args.size), ("--batch", batch)):
        cmd += [flag, str(value)] if value else []
    return _last_json(cmd, num_devices, args.deadline)


@functools.lru_cache(maxsize=None)
def _peak(dtype: str, deadline: float | None) -> float:
    """`matmul_peak_tflops` measured once per dtype, in a process of its own (this one keeps the
    accelerator free for the models' processes), for every row's MFU."""
    return round(_last_json([sys.executable, __file__, "--matmul-peak", "--dtype", dtype],
                            deadline=deadline)["peak_tflop_s"], 3)


class RowFailed(Exception):
    """A benchmark process failed, or ran past ``--time-limit`` (the message says which, in one line
    plus the process's error output)."""


def _last_json(cmd: list[str], host_devices: int | None = None, deadline: float | None = None) -> dict:
    """The last line a benchmark process prints, as JSON; a `RowFailed` with its error output where it
    fails or outlasts ``deadline`` (a `time.monotonic` instant). With ``host_devices``, the process's CPU
    backend has that many devices (used where the CPU is the device)."""
    env = dict(os.environ)
    if host_devices:
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={host_devices}".strip()
    left = None if deadline is None else deadline - time.monotonic()
    if left is not None and left <= 0:
        raise RowFailed(f"{' '.join(cmd[1:5])}: not started, --time-limit ran out")
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=left)
    except subprocess.TimeoutExpired:
        raise RowFailed(f"{' '.join(cmd[1:5])}: stopped, --time-limit ran out") from None
    if done.returncode:
        raise RowFailed(f"{' '.join(cmd[1:5])} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _torch_has_cuda() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    probe = [sys.executable, "-c", "import torch; print(torch.cuda.is_available())"]
    return subprocess.run(probe, capture_output=True, text=True).stdout.strip() == "True"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="all", choices=["all", *MODELS, "inception", "fid"], nargs="+")
    p.add_argument("--size", type=int, default=None)
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2, help="untimed steps, the first one compiles")
    p.add_argument("--conv-impl", default="auto", choices=["auto", "xla", "matmul", "space_to_depth"])
    p.add_argument("--dtype", default="auto", help="compute dtype (auto: bfloat16 on GPU/TPU, float32 on CPU)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference")
    p.add_argument("--torch-reference", type=Path, default=TORCH_REFERENCE,
                   help="another reference script with the same command line (e.g. ../shared/bench/torch_reference.py)")
    p.add_argument("--torch-compile", choices=["auto", "on", "off"], default="auto",
                   help="also time the reference under torch.compile (auto: where CUDA is available)")
    p.add_argument("--fid-images", type=int, default=10_000, help="--model fid: images in each of the two sets")
    p.add_argument("--devices", type=int, nargs="+", default=None, metavar="N",
                   help="weak scaling: each model on the first N devices, --batch images per device")
    p.add_argument("--time-limit", type=float, default=None, metavar="S",
                   help="stop starting rows after S seconds (a row that runs past it is stopped); the table "
                        "holds the rows done, and each row skipped or failed is one line")
    p.add_argument("--num-devices", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--jax-row", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--matmul-peak", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.deadline = time.monotonic() + args.time_limit if args.time_limit else None
    rows = []
    if "fid" in args.model:
        fid = bench_fid(args)
        print(json.dumps(fid), flush=True)
        print(f"\nFID of {args.fid_images} vs {args.fid_images} images end to end: {fid['total_s']} s "
              f"({fid['images_per_s']} images/s; features {fid['features_s']} s, Frechet distance {fid['frechet_s']} s)")
        args.model = [m for m in args.model if m != "fid"]
        if not args.model:
            return
    if args.jax_row:                                   # the child of `_jax_row`: one model, its row only
        name = args.model[0]
        print(json.dumps(bench_inception(args) if name == "inception" else bench_jax(name, args)))
        return
    if args.matmul_peak:                               # the child of `_peak`
        print(json.dumps({"peak_tflop_s": matmul_peak_tflops(args.dtype)}))
        return
    names = list(MODELS) if "all" in args.model else args.model
    if args.devices:
        if "inception" in names:
            sys.exit("--devices: weak scaling is measured for the training steps, not --model inception")
        rows = []
        for name in names:
            for n in args.devices:
                try:
                    rows.append(_jax_row(name, args, n))
                except RowFailed as e:
                    print(f"skipped {name} on {n} device(s): {e}", flush=True)
                    continue
                print(json.dumps(rows[-1]), flush=True)
        print_scaling(rows)
        return
    compiled = args.torch_compile == "on" or (args.torch_compile == "auto" and not args.no_torch and _torch_has_cuda())
    for name in names:
        try:
            ours = _jax_row(name, args)
            if "tflop_s" in ours:
                ours["peak_tflop_s"] = _peak(ours["dtype"], args.deadline)
                ours["mfu"] = round(ours["tflop_s"] / (ours["peak_tflop_s"] * ours["num_devices"]), 3)
        except RowFailed as e:
            print(f"skipped {name}: {e}", flush=True)
            continue
        print(json.dumps(ours), flush=True)
        refs = {}
        for mode in ("eager", "compile") if compiled else ("eager",):
            try:
                refs[mode] = bench_torch(name, args, ours["size"], ours["batch"], compiled=mode == "compile",
                                         upscale=ours.get("upscale_tile", 0))
            except RowFailed as e:
                print(f"no torch {mode} figure for {name}: {e}", flush=True)
                refs[mode] = None
            if refs[mode]:
                print(json.dumps(refs[mode]), flush=True)
        rows.append((ours, refs))
    print_table(rows, compiled)


def _ratio(ours: dict, ref: dict | None) -> str:
    return f"{(ours['batch'] / ours['step_s']) / (ref['batch'] / ref['step_s']):.2f}" if ref else "n/a"


def print_scaling(rows: list[dict]) -> None:
    """The weak-scaling table: images/s per device at each device count, and its fraction of the
    one-device (or fewest-device) figure of the same model."""
    print("\n| model | device | devices | global batch | img/s | img/s per device | efficiency | s/step |")
    print("|---" * 8 + "|")
    base = {}
    for row in rows:
        per_device = row["images_per_s"] / row["num_devices"]
        base.setdefault(row["model"], per_device)
        print(f"| {row['model']} | {row['device']} | {row['num_devices']} | {row['batch']} | {row['images_per_s']} | "
              f"{per_device:.3g} | {per_device / base[row['model']]:.2f} | {row['step_s']} |")


def print_table(rows: list[tuple[dict, dict]], compiled: bool) -> None:
    """The markdown table of benchmarks/RESULTS.md; MFU is against `_peak` in the step's dtype."""
    compile_head = " torch.compile img/s | ratio (jax/compile) |" if compiled else ""
    print(f"\n| model | size | batch | dtype | jax img/s | torch eager img/s | ratio (jax/eager) |{compile_head} "
          f"GFLOP/step | TFLOP/s | MFU | jax compile s | jax peak MB |")
    print("|---" * (12 + 2 * compiled) + "|")
    for ours, refs in rows:
        eager, comp = refs.get("eager"), refs.get("compile")
        compile_cells = (f" {comp['images_per_s'] if comp else 'n/a'} | {_ratio(ours, comp)} |" if compiled else "")
        print(f"| {ours['model']} | {ours['size']} | {ours['batch']} | {ours.get('dtype', 'float32')} | "
              f"{ours['images_per_s']} | {eager['images_per_s'] if eager else 'n/a'} | {_ratio(ours, eager)} |"
              f"{compile_cells} {ours.get('gflop_per_step', 'n/a')} | {ours.get('tflop_s', 'n/a')} | "
              f"{ours.get('mfu', 'n/a')} | {ours['compile_s']} | {ours['peak_memory_mb']} |")
    peaks = {ours["dtype"]: ours["peak_tflop_s"] for ours, _ in rows if "peak_tflop_s" in ours}
    if peaks:
        print("\nMFU: the step's FLOPs (XLA's cost analysis of the compiled step) per second over this device's "
              "measured large-matmul speed: " + ", ".join(f"{d} {p} TFLOP/s" for d, p in peaks.items()))
    for ours, refs in rows:
        if "upscale_mp_s" in ours:
            theirs = (refs.get("eager") or {}).get("upscale_mp_s")
            ratio = f"{ours['upscale_mp_s'] / theirs:.2f}" if theirs else "n/a"
            side = ours["upscale_tile"]
            print(f"\n{ours['model']} x4 inference ({side}x{side} LR tile): jax {ours['upscale_mp_s']} output MP/s, "
                  f"torch {theirs or 'n/a'} MP/s, ratio {ratio}")


if __name__ == "__main__":
    main()
