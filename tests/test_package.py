"""The package as a user installs it: the wheel builds, installs without the checkout, and its console
commands and Python API run from another directory."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel, built from a copy of the sources (the checkout stays clean) and installed with
    ``pip install --no-deps --target`` (the dependencies are this environment's): its folder."""
    tmp = tmp_path_factory.mktemp("package")
    source = tmp / "source"
    source.mkdir()
    for name in ("jaxgan", "configs"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    built = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel, = (tmp / "dist").glob("jaxgan-*.whl")
    target = tmp / "site"
    done = subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return target


def run(installed: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(installed), "JAX_NUM_CPU_DEVICES": "1"}
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_wheel_s_commands_and_python_api_run_from_another_directory(installed, tmp_path):
    from jaxgan import __version__

    bin_dir = installed / "bin"
    for command in ("jaxgan-train", "jaxgan-infer", "jaxgan-convert", "jaxgan-prepare"):
        shown = run(installed, tmp_path, bin_dir / command, "--help")
        assert shown.returncode == 0 and "flags:" in shown.stdout and "--workdir" in shown.stdout, shown.stderr[-2000:]
    fields = run(installed, tmp_path, bin_dir / "jaxgan-train", "--help", "--config", "gan")
    assert "--config.model.g_hidden" in fields.stdout                 # a shipped config by name, from the wheel

    trained = run(installed, tmp_path, bin_dir / "jaxgan-train", "--config", "gan", "--workdir", "w",
                  "--config.num_steps=2", "--config.evaluate=False", "--config.batch_size=8")
    assert trained.returncode == 0, trained.stderr[-3000:]
    made = run(installed, tmp_path, bin_dir / "jaxgan-infer", "--workdir", "w", "--output", "o", "--num", "4")
    assert made.returncode == 0 and len(list((tmp_path / "o").glob("*.png"))) == 4, made.stderr[-3000:]

    snippet = ("import jaxgan, numpy as np; print(jaxgan.__file__); print(jaxgan.__version__); "
               "np.save('api.npy', jaxgan.load('w').generate(4, seed=0))")
    api = run(installed, tmp_path, sys.executable, "-c", snippet)
    assert api.returncode == 0, api.stderr[-3000:]
    where, version = api.stdout.strip().splitlines()[-2:]
    assert Path(where).is_relative_to(installed) and version == __version__
    written = np.stack([np.asarray(Image.open(tmp_path / "o" / f"sample_{i:05d}.png")) for i in range(4)])
    np.testing.assert_array_equal(np.load(tmp_path / "api.npy")[..., 0], written)   # the command's images

    unknown = run(installed, tmp_path, bin_dir / "jaxgan-train", "--config", "nogan", "--workdir", "w2")
    assert unknown.returncode == 1 and unknown.stderr.strip().splitlines() == [
        "error: --config nogan: not a .py file, nor a shipped config (cyclegan, dcgan, esrgan, gan, pix2pix, srgan, "
        "stargan, text2img, wgan, wgan_gp)"]
