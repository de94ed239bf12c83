"""The command lines a user types: config errors, infer.py output."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, JAX_NUM_CPU_DEVICES="1")


def run(*args):
    return subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, env=ENV, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.parametrize("override,field", [("--config.batch_sise=3", "batch_sise"),
                                            ("--config.model.nope=1", "nope"),
                                            ("--config.batch_size=abc", "batch_size")])
def test_bad_override_fails_at_once_with_one_line(override, field, tmp_path):
    result = run("train.py", "--config", "configs/dcgan.py", "--workdir", tmp_path, override)
    assert result.returncode != 0
    lines = [l for l in result.stderr.strip().splitlines() if l.strip()]
    assert len(lines) == 1, result.stderr
    assert field in lines[0] and "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def trained_workdir(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run")
    result = run("train.py", "--config", "configs/gan.py", "--workdir", workdir, "--config.num_steps=3",
                 "--config.batch_size=8", "--config.image_size=16", "--config.evaluate=False", "--config.log_every=1",
                 "--config.model.g_hidden=(32,)", "--config.model.d_hidden=(32,)")
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


def test_train_leaves_checkpoints_logs_and_samples(trained_workdir):
    assert (trained_workdir / "checkpoints" / "3").is_dir()
    assert (trained_workdir / "config.json").is_file()
    assert (trained_workdir / "metrics.jsonl").read_text().count("\n") == 3
    assert list((trained_workdir / "tensorboard").glob("events.out.tfevents.*"))
    assert (trained_workdir / "samples" / "samples_0000003.png").is_file()


def test_infer_writes_pngs_and_never_overwrites(trained_workdir, tmp_path):
    out = tmp_path / "out"
    result = run("infer.py", "--workdir", trained_workdir, "--output", out, "--num", 11, "--batch", 4)
    assert result.returncode == 0, result.stderr[-3000:]
    files = sorted(out.glob("*.png"))
    assert len(files) == 11
    with Image.open(files[0]) as im:
        assert im.size == (16, 16) and im.mode == "L"
    before = files[0].read_bytes()
    again = run("infer.py", "--workdir", trained_workdir, "--output", out, "--num", 11, "--seed", 5)
    assert again.returncode != 0 and "--overwrite" in again.stderr and files[0].read_bytes() == before
    forced = run("infer.py", "--workdir", trained_workdir, "--output", out, "--num", 11, "--seed", 5, "--overwrite")
    assert forced.returncode == 0 and files[0].read_bytes() != before
    assert np.asarray(Image.open(files[0])).std() > 0


def test_infer_on_missing_workdir_is_one_clear_line(tmp_path):
    result = run("infer.py", "--workdir", tmp_path / "nothing", "--output", tmp_path / "o")
    assert result.returncode != 0 and "is this a jaxgan workdir" in result.stderr
    assert "Traceback" not in result.stderr
