"""Resume: exact continuation in-process and after SIGKILL; damaged and mismatched checkpoints."""
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from conftest import CONV_FLAG
from jaxgan.errors import CheckpointError
from jaxgan.train import Trainer

ROOT = Path(__file__).resolve().parents[1]


def final_params(workdir):
    from jaxgan.inference import load_generator
    _, variables, step = load_generator(workdir)
    return step, variables


def assert_trees_equal(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _train_cmd(workdir, steps):
    return [sys.executable, str(ROOT / "train.py"), "--config", str(ROOT / "configs" / "wgan.py"),
            f"--workdir={workdir}", CONV_FLAG, f"--config.num_steps={steps}", "--config.image_size=16",
            "--config.batch_size=8", "--config.model.g_features=8", "--config.model.d_features=8",
            "--config.model.latent_dim=16", "--config.checkpoint_every=2", "--config.log_every=2",
            "--config.sample_every=1000", "--config.evaluate=False"]


def test_sigkill_mid_training_then_resume_matches_uninterrupted(tmp_path):
    env = dict(os.environ, JAX_NUM_CPU_DEVICES="1")
    steps = 40
    subprocess.run(_train_cmd(tmp_path / "straight", steps), env=env, check=True, capture_output=True)
    proc = subprocess.Popen(_train_cmd(tmp_path / "killed", steps), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpts = tmp_path / "killed" / "checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        done = [p for p in ckpts.glob("*") if p.name.isdigit()] if ckpts.exists() else []
        if any(int(p.name) >= 6 for p in done):
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed; raise num_steps"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = max(int(p.name) for p in ckpts.glob("*") if p.name.isdigit())
    assert killed_at < steps
    resumed = subprocess.run(_train_cmd(tmp_path / "killed", steps), env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed from step" in resumed.stderr
    assert_trees_equal(final_params(tmp_path / "straight")[1], final_params(tmp_path / "killed")[1])
    logged = [json.loads(line)["step"] for line in (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()]
    assert logged == list(range(2, steps + 1, 2))             # each step once, although steps were redone


def test_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(tmp_path):
    env = dict(os.environ, JAX_NUM_CPU_DEVICES="1")
    cmd = _train_cmd(tmp_path, 400)[:-4] + ["--config.checkpoint_every=1000", "--config.log_every=5",
                                           "--config.sample_every=1000", "--config.evaluate=False"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and not (tmp_path / "metrics.jsonl").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode != 0 and "Traceback" not in err
    stopped = int(re.search(r"stopped at step (\d+) \(checkpoint saved\); run the same command to resume", err)[1])
    assert 5 <= stopped < 400 and (tmp_path / "checkpoints" / str(stopped)).is_dir()


def test_a_workdir_trains_one_run_at_a_time(tiny, tmp_path):
    from jaxgan.errors import TrainingError
    first = Trainer(tiny("gan", num_steps=2), tmp_path)
    with pytest.raises(TrainingError, match="in use by another training run"):
        Trainer(tiny("gan", num_steps=2), tmp_path)
    first.fit()                                        # finishing (or closing) releases the workdir
    Trainer(tiny("gan", num_steps=2), tmp_path).close()


def test_damaged_checkpoint_gives_clear_error(tiny, tmp_path):
    Trainer(tiny("gan", num_steps=2, checkpoint_every=2), tmp_path).fit()
    for f in (tmp_path / "checkpoints" / "2" / "state").rglob("*"):
        if f.is_file():
            f.write_bytes(b"garbage")      # e.g. a disk error or a partial copy
    with pytest.raises(CheckpointError, match="damaged or incomplete"):
        Trainer(tiny("gan", num_steps=4), tmp_path)


def test_checkpoint_from_other_config_is_refused(tiny, tmp_path):
    Trainer(tiny("dcgan", num_steps=2, checkpoint_every=2), tmp_path).fit()
    changed = "does not match this config.*changed since that checkpoint: .*model.g_features 8 -> 16"
    with pytest.raises(CheckpointError, match=changed):
        Trainer(tiny("dcgan", num_steps=4, **{"model.g_features": 16}), tmp_path)


def test_resuming_with_a_changed_config_says_what_differs_and_records_it(tiny, tmp_path, caplog):
    decay = {f"optim.{n}.{k}": v for n in "gd" for k, v in (("schedule", "linear_decay"), ("decay_start", 0.0))}
    Trainer(tiny("gan", num_steps=4, checkpoint_every=4, **decay), tmp_path).fit()
    _, before = final_params(tmp_path)
    with caplog.at_level(logging.WARNING, "jaxgan"):
        Trainer(tiny("gan", num_steps=6, checkpoint_every=4, **decay, **{"optim.d.lr": 1e-4}), tmp_path).fit()
    assert "resuming with a changed config: num_steps 4 -> 6, optim.d.lr 0.0002 -> 0.0001" in caplog.text
    record = json.loads((tmp_path / "config_changes.jsonl").read_text())
    assert record == {"step": 4, "changes": {"num_steps": [4, 6], "optim.d.lr": [0.0002, 0.0001]}}
    assert json.loads((tmp_path / "config.json").read_text())["schedule_extensions"] == [[4, 4]]
    # The decay had reached 0 at step 4: the longer run continues from there instead of jumping back up.
    step, after = final_params(tmp_path)
    assert step == 6
    assert_trees_equal(before, after)


def test_nan_loss_stops_with_step_and_keeps_last_good_checkpoint(tiny, tmp_path):
    from jaxgan.errors import TrainingError
    Trainer(tiny("gan", num_steps=2, checkpoint_every=2), tmp_path).fit()
    config = tiny("gan", num_steps=30, checkpoint_every=1, log_every=10)
    config.optim.g.lr = 1e38
    config.optim.d.lr = 1e38
    with pytest.raises(TrainingError, match=r"non-finite loss at step \d+.*last good checkpoint \(step 2\)"):
        Trainer(config, tmp_path).fit()
    steps = sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit())
    assert steps == [2], steps


def test_a_field_the_recorded_config_predates_counts_as_its_default(tiny):
    import ml_collections

    from jaxgan import config as config_lib
    config = tiny("gan")
    recorded = config.to_dict()
    del recorded["ema_decay"]                                  # a run recorded before the field existed
    assert config_lib.differences(ml_collections.ConfigDict(recorded), config) == {}
    config.ema_decay = 0.5
    assert config_lib.differences(ml_collections.ConfigDict(recorded), config) == {"ema_decay": (0.0, 0.5)}


def test_a_disk_that_fills_up_or_lacks_room_keeps_the_last_good_checkpoint_and_says_so_in_one_line(
        tiny, tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    import orbax.checkpoint as ocp

    from jaxgan import checkpoint
    from jaxgan.train import finished_step

    original = ocp.CheckpointManager.save

    def full_at_step_4(self, step, *args, **kwargs):
        if step == 4:
            (Path(self.directory) / "4.orbax-checkpoint-tmp-123").mkdir()     # what a failed write leaves
            raise ValueError("RESOURCE_EXHAUSTED: Error writing ...: Failed to write 201 bytes to file 22: No space "
                             "left on device [os_error_code='28']")
        return original(self, step, *args, **kwargs)

    monkeypatch.setattr(ocp.CheckpointManager, "save", full_at_step_4)
    with pytest.raises(CheckpointError) as error:
        Trainer(tiny("dcgan", num_steps=6, checkpoint_every=2), tmp_path / "run").fit()
    assert str(error.value) == (f"could not write checkpoint 4 to {tmp_path / 'run' / 'checkpoints'}: no space left "
                                f"on device; the last good checkpoint is step 2 (kept). Fix the disk and run the same "
                                f"command to resume")
    assert finished_step(tmp_path / "run") == 2 and not list((tmp_path / "run" / "checkpoints").glob("*tmp*"))
    monkeypatch.setattr(ocp.CheckpointManager, "save", original)
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10 ** 9, 10 ** 9 - 1000, 1000))
    with pytest.raises(CheckpointError, match=r"no room for checkpoint 4 in .*: 0\.0 MiB free, a checkpoint takes "
                                              r"0\.\d MiB; the last good checkpoint is step 2 \(kept\)"):
        Trainer(tiny("dcgan", num_steps=6, checkpoint_every=2), tmp_path / "run").fit()
    monkeypatch.undo()
    assert Trainer(tiny("dcgan", num_steps=6, checkpoint_every=2), tmp_path / "run").fit()["start_step"] == 2
    assert checkpoint.SPACE_MARGIN > 1


def _mounted_tmpfs(path, size):
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if done.returncode:
        pytest.skip(f"mounting a small tmpfs needs root ({done.stderr.decode().strip()[:100]})")


def test_a_real_full_disk_and_a_read_only_workdir_are_one_line_each_and_a_resume_goes_on(tmp_path):
    disk = tmp_path / "disk"
    _mounted_tmpfs(disk, "600k")
    try:
        cmd = _train_cmd(disk / "run", 40)
        env = dict(os.environ, JAX_NUM_CPU_DEVICES="1")
        full = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert full.returncode == 1
        last = full.stderr.strip().splitlines()[-1]
        assert re.fullmatch(r"error: (could not write checkpoint \d+ to|no room for checkpoint \d+ in) .*the last good "
                            r"checkpoint is step \d+ \(kept\)\. (Fix the disk|Free some space) and run the same "
                            r"command to resume", last), full.stderr[-3000:]
        assert "Traceback" not in full.stderr and "Logging error" not in full.stderr
        subprocess.run(["mount", "-o", "remount,size=50m", str(disk)], check=True)
        resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        read_only = subprocess.run(_train_cmd(disk / "run", 44), env=env, capture_output=True, text=True, timeout=300)
        assert read_only.returncode == 1
        assert read_only.stderr.strip().splitlines()[-1] == f"error: cannot write to the workdir {disk / 'run'}: " \
                                                            f"read-only file system"
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
