"""What a run shows: TensorBoard scalars and image grids, metrics.jsonl, PNG sample grids, a progress bar."""
from __future__ import annotations

import json
import logging
import math
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from jaxgan.data.images import make_grid, save_png


class Reporter:
    """Writes a workdir's logs. Only the first host writes; every host may call it."""

    def __init__(self, workdir: str | Path, total_steps: int, start_step: int, images_per_step: int,
                 enabled: bool = True):
        self.workdir = Path(workdir)
        self.enabled = enabled
        self.images_per_step = images_per_step
        self._total = total_steps
        self._writer = None
        self._bar = None
        if enabled:
            from tensorboardX import SummaryWriter

            _drop_records_after(self.workdir / "metrics.jsonl", start_step)
            self._writer = SummaryWriter(str(self.workdir / "tensorboard"), flush_secs=30)
            self._bar = tqdm(total=total_steps * images_per_step, initial=start_step * images_per_step,
                             unit="img", unit_scale=True, dynamic_ncols=True, file=sys.stderr,
                             disable=None, mininterval=1.0)
        self._last_time, self._last_step = time.perf_counter(), start_step

    def advance(self, steps: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(steps * self.images_per_step)

    def throughput(self, step: int) -> float:
        """Images per second since the previous call (call at log steps, after a host sync)."""
        now = time.perf_counter()
        rate = (step - self._last_step) * self.images_per_step / max(now - self._last_time, 1e-9)
        self._last_time, self._last_step = now, step
        return rate

    def scalars(self, step: int, values: dict[str, float], prefix: str = "train") -> None:
        if not self.enabled:
            return
        for k, v in values.items():
            self._writer.add_scalar(f"{prefix}/{k}", v, step)
        record = {"step": step, **{f"{prefix}/{k}": (v if math.isfinite(v) else str(v)) for k, v in values.items()}}
        with open(self.workdir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        if self._bar is not None and prefix == "train":
            shown = {k: values[k] for k in ("d_loss", "g_loss") if k in values}
            self._bar.set_postfix({k: f"{v:.3f}" for k, v in shown.items()}, refresh=False)
            if self._bar.disable:                 # output to a file: one progress line per log step instead
                rate = values.get("images_per_second", 0.0)
                print(f"step {step}/{self._total}: {summary_line(shown)}  {rate:.1f} img/s", file=sys.stderr)

    def image_grid(self, step: int, name: str, images: np.ndarray) -> Path | None:
        """Logs ``[N, H, W, C]`` images in [-1, 1] as one grid: TensorBoard and samples/<name>_<step>.png."""
        if not self.enabled:
            return None
        grid = make_grid(images)
        self._writer.add_image(name, grid, step, dataformats="HWC")
        path = self.workdir / "samples" / f"{name}_{step:07d}.png"
        save_png(grid, path)
        return path

    def message(self, text: str) -> None:
        if self.enabled:
            (self._bar.write if self._bar is not None else print)(text)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._writer is not None:
            try:
                self._writer.close()
            except OSError:                   # a full or read-only disk: the run already says so
                pass


#: the libraries whose log records go to the workdir's log instead of the terminal
LIBRARIES = ("absl", "orbax", "jax", "tensorflow", "tensorboardX", "etils")


def library_messages_to(path: Path) -> None:
    """From now on, the libraries' log records and the errors of background threads (a writer thread
    that fails on a full disk) go to ``path``; a failed thread also gets one line on the terminal."""
    handler = logging.FileHandler(path, delay=True)
    handler.handleError = lambda record: None          # a full disk is reported once, by the trainer
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in LIBRARIES:
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False

    def thread_failed(args: threading.ExceptHookArgs) -> None:
        try:
            with open(path, "a") as f:
                f.write("".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)))
        except OSError:
            pass
        print(f"warning: a background thread ({args.thread.name if args.thread else '?'}) failed: "
              f"{args.exc_type.__name__}: {str(args.exc_value)[:200]} (details in {path})", file=sys.stderr)

    threading.excepthook = thread_failed


def _drop_records_after(path: Path, step: int) -> None:
    """Removes the records a killed run logged after its last checkpoint (``step``), atomically, so a
    resumed run does not log those steps twice."""
    if not path.exists():
        return
    lines = path.read_text().splitlines(keepends=True)
    kept = [line for line in lines if line.strip() and json.loads(line).get("step", 0) <= step]
    if len(kept) < len(lines):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("".join(kept))
        os.replace(tmp, path)


def summary_line(values: dict[str, Any]) -> str:
    return "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())
