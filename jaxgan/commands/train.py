"""Train a GAN: ``python train.py --config configs/dcgan.py --workdir runs/dcgan [--config.field=value ...]``.

Re-running the same command resumes from the latest checkpoint in the workdir.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from absl import flags
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "A shipped config by name (dcgan, cyclegan:paper, ...) or a "
                                          "config file (configs/dcgan.py).",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory: checkpoints, logs, samples.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {' '.join(argv[1:])}")
    try:
        config = _CONFIG.value
        config.get("recipe")          # a file that failed to load answers every access with its error
    except Exception as e:  # ml_collections loads the file lazily and raises IOError, SyntaxError, NameError...
        reason = [line.strip() for line in str(e).splitlines() if line.strip()][-1:] or [type(e).__name__]
        sys.exit(f"error: cannot load the --config file: {reason[0]}")
    from jaxgan import hosts
    from jaxgan.cli import use_compile_cache
    from jaxgan.errors import TrainingStopped, UserError
    from jaxgan.train import finished_step, run

    if hosts.several_hosts_launch() and not hosts.supervised():      # see jaxgan.hosts.supervise
        sys.exit(hosts.supervise(sys.argv, Path(_WORKDIR.value), lambda: finished_step(_WORKDIR.value)))

    use_compile_cache(config.get("compile_cache", "auto"))

    try:
        result = run(config, _WORKDIR.value)
    except TrainingStopped as e:
        sys.exit(str(e))
    except UserError as e:
        sys.exit(f"error: {e}")
    except KeyboardInterrupt:
        sys.exit("error: stopped at once; the last checkpoint is kept (run the same command to resume from it)")
    if result.get("eval"):
        e = config.eval
        mode = f" (fid mode {e.fid_mode})" if e.features == "inception" and e.metrics else ""
        print(f"final evaluation{mode}: " + "  ".join(f"{k}={v:.4g}" for k, v in result["eval"].items()))


def entry() -> None:
    """The console command (``jaxgan-train``; ``python train.py`` runs it too)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from jaxgan.cli import run_absl_app

    run_absl_app(main)


if __name__ == "__main__":
    entry()
