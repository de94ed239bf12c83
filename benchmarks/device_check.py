"""The accelerator check: one command that prints every speed figure a lent GPU machine can give.

    python benchmarks/device_check.py                  # on the GPU machine (jax, torch, flax, optax, orbax, no TF)
    python benchmarks/device_check.py --quick          # the same parts here, at toy sizes, to prove they run
    python benchmarks/device_check.py --api-check jax-0.11.2-py3-none-any.whl   # every jax.* name we use exists there

In order, each part within what is left of ``--budget`` seconds (default 470: the machine is lent for
minutes; a part that does not fit is one line saying so):

1. the packages `benchmarks/bench.py` imports: a missing one is one line naming the wheel to carry
   (ml_collections is the one that machine lacks: see benchmarks/RESULTS.md, "Speed on an accelerator");
2. the `bench.py` table in the accelerator's default dtype (bfloat16), beside PyTorch eager and
   torch.compile, with MFU;
3. the same models in float32, jaxgan only;
4. weak scaling over the machine's devices, where it has several;
5. the input table (`input_pipeline.py`), or one line saying why not (tf.data needs TensorFlow).

Print it all into a file the device tool brings back, e.g.
``python benchmarks/device_check.py 2>&1 | tee $OUT/device_check.log``.
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: what bench.py needs -> the wheel that provides it
PACKAGES = {"jax": "jax", "flax": "flax", "optax": "optax", "orbax.checkpoint": "orbax-checkpoint", "numpy": "numpy",
            "PIL": "pillow", "ml_collections": "ml-collections==1.1.0", "absl": "absl-py", "h5py": "h5py"}


def missing_packages() -> list[str]:
    """One line per package bench.py needs that this Python lacks, naming the wheel to carry."""
    return [f"missing package {module}: carry the wheel {wheel} (see the device tool's README)"
            for module, wheel in PACKAGES.items() if importlib.util.find_spec(module.split(".")[0]) is None
            or (module == "orbax.checkpoint" and importlib.util.find_spec(module) is None)]


def api_check(wheel: Path) -> list[str]:
    """The ``jax.*`` names jaxgan's code uses that the given jax wheel's modules do not define (read from its
    source, not imported: the wheel may need a Python this machine lacks)."""
    with zipfile.ZipFile(wheel) as archive:
        sources = {n[:-3].replace("/", "."): archive.read(n) for n in archive.namelist() if n.endswith(".py")}
    modules = {name.removesuffix(".__init__") for name in sources}

    def defined(module: str) -> set[str] | None:
        source = sources.get(module) or sources.get(f"{module}.__init__")
        if source is None:
            return None
        names = {m.split(".")[-1] for m in modules if m.rsplit(".", 1)[0] == module}
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        return names

    used = set()
    for path in [*ROOT.glob("jaxgan/**/*.py"), *ROOT.glob("benchmarks/*.py"), ROOT / "train.py", ROOT / "infer.py"]:
        used |= set(re.findall(r"\bjax(?:\.[A-Za-z_]\w*)+", path.read_text()))
    absent = []
    for name in sorted(used):
        parts, module = name.split("."), "jax"
        for part in parts[1:]:
            names = defined(module)
            if names is None:              # an attribute of an object, not of a module: checked as far as here
                break
            if part not in names:
                absent.append(name)
                break
            module = f"{module}.{part}"
    return absent


def run(title: str, cmd: list[str], deadline: float, limit_flag: bool = True) -> None:
    """Runs one part with what is left of the budget (passed on as bench.py's ``--time-limit``), streaming
    its output."""
    left = deadline - time.monotonic()
    print(f"\n== {title}", flush=True)
    if left < 20:
        print(f"skipped: {left:.0f} s of the budget left", flush=True)
        return
    start = time.monotonic()
    try:
        subprocess.run(cmd + (["--time-limit", str(int(left - 5))] if limit_flag else []), cwd=ROOT, timeout=left)
    except subprocess.TimeoutExpired:
        print("stopped: the budget ran out", flush=True)
    print(f"({time.monotonic() - start:.0f} s)", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="toy sizes on this machine: every part runs, quickly")
    p.add_argument("--budget", type=float, default=470, help="seconds for all parts together")
    p.add_argument("--api-check", type=Path, metavar="WHEEL", help="check the jax.* names against a jax wheel, stop")
    args = p.parse_args()
    if args.api_check:
        absent = api_check(args.api_check)
        print("\n".join(f"not in {args.api_check.name}: {n}" for n in absent) or
              f"every jax.* name the code uses is defined in {args.api_check.name}")
        sys.exit(1 if absent else 0)
    deadline = time.monotonic() + args.budget
    missing = missing_packages()
    print("\n".join(missing) or "packages: every one bench.py imports is here", flush=True)
    if missing:
        sys.exit(1)
    import jax

    devices = jax.devices()
    print(f"devices: {len(devices)} x {devices[0].device_kind} ({jax.default_backend()}), jax {jax.__version__}", flush=True)
    bench = [sys.executable, str(ROOT / "benchmarks" / "bench.py")]
    sizes = ["--model", "dcgan", "--size", "16", "--batch", "4", "--steps", "1", "--warmup", "1"] if args.quick \
        else ["--steps", "5", "--warmup", "2"]
    torch = ["--torch-compile", "on"] if importlib.util.find_spec("torch") else ["--no-torch"]
    run("bench.py, bfloat16 (the accelerators' default), PyTorch eager and torch.compile",
        bench + sizes + ["--dtype", "bfloat16"] + torch, deadline)
    run("bench.py, float32, jaxgan only", bench + sizes + ["--dtype", "float32", "--no-torch"], deadline)
    count = 2 if args.quick else len(devices)
    if count > 1:
        scaling = sizes if args.quick else ["--model", "dcgan", "pix2pix", "srgan", "--steps", "5", "--warmup", "2"]
        run("weak scaling", bench + scaling + ["--devices", *map(str, sorted({1, 2, count}))], deadline)
    else:
        print("\n== weak scaling\nskipped: this machine has one device", flush=True)
    print("\n== input pipeline (benchmarks/input_pipeline.py)", flush=True)
    if importlib.util.find_spec("tensorflow") is None:
        print("skipped: tf.data needs TensorFlow, which this machine lacks (the input table is measured on CPU "
              "machines: benchmarks/RESULTS.md)", flush=True)
    else:
        run("input pipeline, embedded sets", [sys.executable, str(ROOT / "benchmarks" / "input_pipeline.py"),
                                              "--recipe", "dcgan", "--steps", "5"], deadline, limit_flag=False)


if __name__ == "__main__":
    main()
