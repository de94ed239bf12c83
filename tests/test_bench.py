"""The benchmark's FLOP count: XLA's cost analysis of exactly the functions one step runs."""
import importlib.util
import os
from pathlib import Path

import jax
import numpy as np
import pytest

from jaxgan import parallel

ROOT = Path(__file__).resolve().parents[1]


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_step_cost_counts_the_flops_of_every_function_a_step_jits_once_each():
    bench = _bench_module()
    mesh = parallel.make_mesh()
    with bench.StepCost(parallel) as cost:
        first = parallel.jit_sharded(lambda x, w: x @ w, mesh, (parallel.BATCH, parallel.REPLICATED), parallel.BATCH)
        second = parallel.jit_sharded(lambda x: x @ x.T, mesh, (parallel.REPLICATED,), parallel.REPLICATED)
    assert parallel.jit_sharded is cost.original                     # restored on exit
    x, w = np.ones((64, 32), np.float32), np.ones((32, 16), np.float32)
    with jax.set_mesh(mesh):
        for _ in range(3):                                           # called every step: counted once
            np.testing.assert_allclose(np.asarray(first(x, w)), 32.0)
        second(w)
    # 2 m n k for each matrix product, per device: the batch-sharded one split over the devices
    assert cost.flops() == 2 * 64 * 32 * 16 / mesh.devices.size + 2 * 32 * 16 * 32


def test_a_critic_loop_s_updates_are_all_counted():
    """WGAN's step (5 critic updates, each with its own G pass) costs several DCGAN steps (one of each):
    XLA's cost analysis counts a loop body once, so this fails if the critic loop stays a rolled loop."""
    import argparse

    bench = _bench_module()
    args = argparse.Namespace(batch=8, size=16, steps=1, warmup=1, conv_impl="auto", dtype="auto", num_devices=None)
    dcgan, wgan = (bench.bench_jax(name, args) for name in ("dcgan", "wgan"))
    assert wgan["gflop_per_step"] > 2.5 * dcgan["gflop_per_step"] > 0
    assert 0 < dcgan["tflop_s"] and dcgan["dtype"] == "float32"


def test_weak_scaling_runs_the_step_on_the_first_n_devices_and_tabulates_images_per_device(capsys):
    import argparse

    bench = _bench_module()
    args = argparse.Namespace(batch=4, size=16, steps=1, warmup=1, conv_impl="auto", dtype="auto", num_devices=2)
    row = bench.bench_jax("dcgan", args)
    assert (row["num_devices"], row["batch"]) == (2, 4) and row["step_s"] > 0
    bench.print_scaling([dict(row, num_devices=1, batch=2, images_per_s=100.0),
                         dict(row, num_devices=2, batch=4, images_per_s=150.0)])
    lines = [line.split("|")[3:8] for line in capsys.readouterr().out.splitlines() if line.startswith("| dcgan |")]
    assert [[cell.strip() for cell in line] for line in lines] == [["1", "2", "100.0", "100", "1.00"],
                                                                  ["2", "4", "150.0", "75", "0.75"]]
    args.num_devices = 16                                            # more than the 8 simulated devices
    with pytest.raises(SystemExit, match="this machine has 8 cpu device"):
        bench.bench_jax("dcgan", args)


def test_the_command_prints_a_table_row_with_mfu_from_a_process_per_model():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--model", "dcgan", "--size", "16",
                           "--batch", "8", "--steps", "1", "--warmup", "1", "--no-torch"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    row = next(line for line in done.stdout.splitlines() if line.startswith("| dcgan |")).split("|")
    assert row[4].strip() == "float32" and 0 < float(row[10]) < 1.5      # MFU over the measured matmul peak
    assert "measured large-matmul speed: float32" in done.stdout


def _device_check():
    spec = importlib.util.spec_from_file_location("device_check", ROOT / "benchmarks" / "device_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_device_check_names_the_wheel_to_carry_and_checks_jax_names_against_a_wheel(tmp_path, monkeypatch):
    import zipfile

    check = _device_check()
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ml_collections" else real(name, *a))
    assert check.missing_packages() == ["missing package ml_collections: carry the wheel ml-collections==1.1.0 (see "
                                        "the device tool's README)"]
    monkeypatch.undo()
    wheel = tmp_path / "jax-0-py3-none-any.whl"            # a jax whose `jax.jit` exists and nothing else does
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("jax/__init__.py", "from jax._src.api import jit\nimport jax.numpy as numpy\n")
        archive.writestr("jax/numpy/__init__.py", "def zeros(): pass\n")
    absent = check.api_check(wheel)
    assert "jax.jit" not in absent and "jax.numpy.zeros" not in absent
    assert "jax.device_put" in absent and "jax.random.PRNGKey" in absent


@pytest.mark.skipif(not os.environ.get("JAXGAN_SLOW_TESTS"), reason="about a minute; JAXGAN_SLOW_TESTS=1 runs it")
def test_the_device_check_runs_every_part_quickly_on_cpu():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "device_check.py"), "--quick"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("| dcgan | 16 | 4 |") == 2 and "| dcgan | cpu | 2 | 8 |" in done.stdout
