"""What a pod sees when a host is preempted or lost, measured with two `train.py` processes on this machine.

Each fault runs a fresh two-host job (one CPU device per process, joined by ``JAX_COORDINATOR_ADDRESS`` /
``JAX_NUM_PROCESSES`` / ``JAX_PROCESS_ID`` on one workdir, DCGAN at 32x32, batch 16), applies the fault
once both hosts are past the first checkpoint, and records each host's exit code and seconds from the
fault to its exit, the last line each printed and the checkpoints on disk. The same command is then run
again on both hosts to the end, and its generator compared with an uninterrupted two-host run::

    python benchmarks/preemption.py                              # every fault, config.host_timeout_s=60
    python benchmarks/preemption.py --faults kill-1 --host-timeout 10

Faults: ``term-1`` SIGTERM to host 1 (one VM preempted), ``term-both`` to both at the same instant (a
slice preempted), ``term-apart`` to host 0 then host 1 ``--apart`` seconds later, ``kill-1`` / ``kill-0``
SIGKILL of host 1 / of host 0, the coordinator (a host lost).
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAULTS = ("term-1", "term-both", "term-apart", "kill-1", "kill-0")


def train_flags(steps: int, checkpoint_every: int, host_timeout_s: float, image_size: int = 32,
                batch_size: int = 16, features: int = 16, extra: tuple[str, ...] = ()) -> list[str]:
    """`train.py`'s flags for the small DCGAN every fault trains (one log line per step)."""
    return ["--config", "configs/dcgan.py", f"--config.image_size={image_size}", f"--config.batch_size={batch_size}",
            f"--config.num_steps={steps}", "--config.log_every=1", f"--config.checkpoint_every={checkpoint_every}",
            "--config.sample_every=100000", "--config.evaluate=False", f"--config.model.g_features={features}",
            f"--config.model.d_features={features}", f"--config.host_timeout_s={host_timeout_s}", *extra]


def start_hosts(workdir: Path, flags: list[str], count: int = 2) -> list[subprocess.Popen]:
    """``count`` `train.py` processes of one CPU device each on ``workdir``, joined as a user joins hosts
    outside SLURM and TPU pods (the three JAX_* variables)."""
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    keep = ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "XLA_FLAGS", "JAXGAN_CACHE_DIR",
            "HOME")
    env = {"JAX_PLATFORMS": "cpu", "JAX_NUM_CPU_DEVICES": "1", "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "2",
           "JAX_COORDINATOR_ADDRESS": f"localhost:{port}", "JAX_NUM_PROCESSES": str(count),
           **{k: os.environ[k] for k in keep if k in os.environ}}
    return [subprocess.Popen([sys.executable, "train.py", "--workdir", str(workdir), *flags], cwd=ROOT,
                             env={**env, "JAX_PROCESS_ID": str(i)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for i in range(count)]


def wait_for_step(workdir: Path, step: int, procs: list[subprocess.Popen], timeout_s: float = 300) -> None:
    """Returns once ``metrics.jsonl`` holds ``step`` logged steps (one per step with ``log_every=1``)."""
    deadline, log = time.time() + timeout_s, workdir / "metrics.jsonl"
    while not (log.exists() and len(log.read_text().splitlines()) >= step):
        if time.time() > deadline or any(p.poll() is not None for p in procs):
            errors = [p.communicate()[1][-2000:] for p in procs if p.poll() is not None]
            raise RuntimeError(f"training never reached step {step}: {errors}")
        time.sleep(0.05)


def ended(procs: list[subprocess.Popen], since: float, timeout_s: float = 600) -> list[tuple[int, str, float]]:
    """``[(exit code, stderr, seconds from since to its exit)]`` of each process, timed by polling."""
    out: dict[int, tuple[int, str, float]] = {}
    deadline = time.time() + timeout_s
    while len(out) < len(procs):
        for i, p in enumerate(procs):
            if i not in out and p.poll() is not None:
                out[i] = (p.returncode, p.communicate()[1], time.time() - since)
        if time.time() > deadline:
            raise RuntimeError("a host did not exit")
        time.sleep(0.02)
    return [out[i] for i in range(len(procs))]


def apply(fault: str, procs: list[subprocess.Popen], apart_s: float) -> float:
    """Applies ``fault`` and returns when it began (time.time())."""
    start = time.time()
    if fault == "term-1":
        procs[1].send_signal(signal.SIGTERM)
    elif fault == "term-both":
        for p in procs:
            p.send_signal(signal.SIGTERM)
    elif fault == "term-apart":
        procs[0].send_signal(signal.SIGTERM)
        time.sleep(apart_s)
        procs[1].send_signal(signal.SIGTERM)
    else:
        procs[int(fault[-1])].kill()
    return start


def checkpoints(workdir: Path) -> list[int]:
    folder = workdir / "checkpoints"
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit()) if folder.exists() else []


def generator(workdir: Path) -> list:
    import jax

    from jaxgan.inference import load_generator

    _, variables, step = load_generator(workdir)
    return [step, jax.tree.leaves(variables)]


def complete(workdir: Path, flags: list[str]) -> float:
    """Runs both hosts to the end on ``workdir``; returns the seconds it took."""
    start = time.time()
    for code, err, _ in ended(start_hosts(workdir, flags), start):
        if code != 0:
            raise RuntimeError(f"the resumed run failed: {err[-2000:]}")
    return time.time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faults", nargs="+", choices=FAULTS, default=list(FAULTS))
    parser.add_argument("--host-timeout", type=float, default=60.0, help="config.host_timeout_s")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--checkpoint-every", type=int, default=15)
    parser.add_argument("--fault-at", type=int, default=20, help="the logged step at which the fault is applied")
    parser.add_argument("--apart", type=float, default=0.7, help="seconds between the signals of term-apart")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import numpy as np

    flags = train_flags(args.steps, args.checkpoint_every, args.host_timeout)
    with tempfile.TemporaryDirectory() as tmp:
        reference = Path(tmp) / "uninterrupted"
        seconds = complete(reference, flags)
        print(f"uninterrupted two-host run: {args.steps} steps in {seconds:.1f} s")
        want_step, want = generator(reference)
        print(f"faults at step {args.fault_at}; checkpoints every {args.checkpoint_every} steps")
        print("| fault | exit codes (host 0, 1) | seconds to exit (host 0, 1) | checkpoints | last line (a survivor) "
              "| resumed to the end | max abs diff to uninterrupted |")
        print("|---|---|---|---|---|---|---|")
        for fault in args.faults:
            workdir = Path(tmp) / fault
            procs = start_hosts(workdir, flags)
            wait_for_step(workdir, args.fault_at, procs)
            out = ended(procs, apply(fault, procs, args.apart))
            lost = int(fault[-1]) if fault.startswith("kill") else None
            codes = ", ".join("killed" if i == lost else str(c) for i, (c, _, _) in enumerate(out))
            times = ", ".join("-" if i == lost else f"{s:.1f}" for i, (_, _, s) in enumerate(out))
            survivor = 1 if lost == 0 else 0
            line = (out[survivor][1].strip().splitlines() or [""])[-1]
            saved = checkpoints(workdir)
            resumed = complete(workdir, flags)
            got_step, got = generator(workdir)
            diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(got, want, strict=True))
            print(f"| {fault} | {codes} | {times} | {saved} | {line} | step {got_step} in {resumed:.0f} s "
                  f"| {diff:.1e} |" + ("" if got_step == want_step else " (ended at another step)"), flush=True)


if __name__ == "__main__":
    main()
