"""The command lines a user types: config errors, infer.py output."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import shared_workdir, train_tiny

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, JAX_NUM_CPU_DEVICES="1")


def run(*args):
    return subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, env=ENV, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.parametrize("config,override,field", [
    ("configs/dcgan.py", "--config.batch_sise=3", "batch_sise"),                 # unknown field
    ("configs/dcgan.py", "--config.batch_size=abc", "batch_size"),               # ill-typed value
    ("configs/dcgan.py", "--config.model.d_norm=batchnorm", "model.d_norm"),     # unknown name
    ("configs/cyclegan.py", "--config.optim.g.lr=-1", "optim.g.lr"),             # out of range
    ("configs/stargan.py", "--config.model.d_layers=6", "2**model.d_layers"),    # a recipe's shape rule
    ("configs/nope.py", "--config.seed=1", "configs/nope.py")])                  # missing config file
def test_bad_config_fails_at_once_with_one_line(config, override, field, tmp_path):
    result = run("train.py", "--config", config, "--workdir", tmp_path / "w", override)
    assert result.returncode != 0
    lines = [l for l in result.stderr.strip().splitlines() if l.strip()]
    assert len(lines) == 1, result.stderr
    assert field in lines[0] and lines[0].startswith("error:") and not (tmp_path / "w").exists()


def test_help_lists_flags_and_config_fields():
    train = run("train.py", "--config", "configs/dcgan.py", "--help")
    assert train.returncode == 0 and "--workdir" in train.stdout and "--config.model.d_norm='batch'" in train.stdout
    infer = run("infer.py", "--help")
    assert infer.returncode == 0 and "--direction" in infer.stdout and "--tile" in infer.stdout


def test_train_leaves_checkpoints_logs_and_samples(trained_workdir):
    again = run("train.py", "--config", "configs/gan.py", "--workdir", trained_workdir, "--config.num_steps=3")
    assert again.returncode == 0 and "already trained to step 3" in again.stderr
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
    before = [f.read_bytes() for f in files]
    again = run("infer.py", "--workdir", trained_workdir, "--output", out, "--num", 11, "--seed", 5)
    assert again.returncode != 0 and "--overwrite" in again.stderr and files[0].read_bytes() == before[0]
    # Each image is a function of (seed, index): another --batch writes the same images.
    stamp = files[0].stat().st_mtime_ns
    forced = run("infer.py", "--workdir", trained_workdir, "--output", out, "--num", 11, "--batch", 3, "--overwrite")
    assert forced.returncode == 0 and files[0].stat().st_mtime_ns != stamp
    assert [f.read_bytes() for f in files] == before
    assert np.asarray(Image.open(files[0])).std() > 0 and before[0] != before[1]


def test_export_writes_the_generator_alone_and_infer_runs_from_it(trained_workdir, tmp_path):
    exported = tmp_path / "gan.msgpack"
    result = run("infer.py", "--workdir", trained_workdir, "--export", exported)
    assert result.returncode == 0 and "step 3" in result.stdout, result.stderr[-3000:]
    checkpoint_bytes = sum(f.stat().st_size for f in (trained_workdir / "checkpoints" / "3").rglob("*") if f.is_file())
    assert exported.stat().st_size < checkpoint_bytes / 2            # no discriminator, no optimiser state
    for source, out in ((trained_workdir, "a"), (exported, "b")):
        assert run("infer.py", "--workdir", source, "--output", tmp_path / out, "--num", 3).returncode == 0
    assert [f.read_bytes() for f in sorted((tmp_path / "a").glob("*.png"))] == \
        [f.read_bytes() for f in sorted((tmp_path / "b").glob("*.png"))]
    refused = run("infer.py", "--workdir", trained_workdir, "--export", exported, "--num", 3)
    assert refused.returncode != 0 and refused.stderr.strip() == "error: --num does not apply to --export (it " \
        "writes the generator alone)"


def test_tensorflow_starts_without_a_banner():
    result = run("-c", "from jaxgan.data.tf_host import tensorflow; tensorflow()")
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_infer_on_missing_workdir_is_one_clear_line(tmp_path):
    result = run("infer.py", "--workdir", tmp_path / "nothing", "--output", tmp_path / "o")
    assert result.returncode != 0 and "is not a jaxgan workdir" in result.stderr
    assert "Traceback" not in result.stderr


def test_infer_translates_a_folder_of_mixed_images(cyclegan_workdir, tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (50, 70, 3), np.uint8)).save(src / "wide.jpg")
    Image.fromarray(rng.integers(0, 255, (33, 21), np.uint8)).save(src / "sub" / "gray.png")
    Image.fromarray(rng.integers(0, 255, (40, 40, 4), np.uint8), "RGBA").save(src / "sub" / "alpha.png")
    (src / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    out = tmp_path / "out"
    result = run("infer.py", "--workdir", cyclegan_workdir, "--input", src, "--output", out, "--direction", "BtoA",
                 "--batch", 2)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "corrupt.png" in result.stderr and "translated 3 image(s)" in result.stdout
    sizes = {p.relative_to(out).as_posix(): Image.open(p).size for p in out.rglob("*.*")}
    assert sizes == {"wide.jpg": (70, 50), "sub/gray.png": (21, 33), "sub/alpha.png": (40, 40)}
    import jaxgan                                                  # the Python API gives infer.py's images
    inputs = [Image.open(src / "sub" / "gray.png"), np.asarray(Image.open(src / "sub" / "alpha.png"))]
    outputs = jaxgan.load(cyclegan_workdir).translate(inputs, direction="BtoA")
    for name, output in zip(("gray.png", "alpha.png"), outputs):
        np.testing.assert_array_equal(output, np.asarray(Image.open(out / "sub" / name)))
    # Fixed --size works too; existing outputs are kept, and translating nothing is a failure.
    again = run("infer.py", "--workdir", cyclegan_workdir, "--input", src, "--output", out)
    assert again.returncode != 0 and "kept 3 existing" in again.stderr
    sized = run("infer.py", "--workdir", cyclegan_workdir, "--input", str(src / "*.jpg"), "--output",
                tmp_path / "sized", "--size", 32)
    assert sized.returncode == 0 and Image.open(tmp_path / "sized" / "wide.jpg").size == (70, 50)
    before = (src / "wide.jpg").read_bytes()
    inside = run("infer.py", "--workdir", cyclegan_workdir, "--input", src, "--output", src / "out", "--overwrite")
    assert inside.returncode != 0 and "inside it" in inside.stderr and (src / "wide.jpg").read_bytes() == before


def test_infer_refuses_mismatched_modes(cyclegan_workdir, trained_workdir, tmp_path):
    no_input = run("infer.py", "--workdir", cyclegan_workdir, "--output", tmp_path / "o")
    assert no_input.returncode != 0 and "give --input" in no_input.stderr
    noise = run("infer.py", "--workdir", trained_workdir, "--output", tmp_path / "o", "--input", tmp_path)
    assert noise.returncode != 0 and "--input does not apply: this run generates from noise" in noise.stderr


def test_pix2pix_translates_in_its_direction_only(tmp_path):
    workdir = train_tiny(tmp_path / "run", "pix2pix", "--config.num_steps=2", "--config.image_size=32",
                         "--config.data.load_size=36", "--config.model.num_downs=5", "--config.model.g_features=8",
                         "--config.model.d_features=8", "--config.batch_size=2", "--config.num_samples=2")
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    for name, shape in (("a.png", (40, 50, 3)), ("b.png", (32, 32, 3))):
        Image.fromarray(rng.integers(0, 255, shape, np.uint8)).save(src / name)
    result = run("infer.py", "--workdir", workdir, "--input", src, "--output", tmp_path / "out", "--direction", "BtoA")
    assert result.returncode != 0 and "can be AtoB, not 'BtoA'" in result.stderr and "Traceback" not in result.stderr
    result = run("infer.py", "--workdir", workdir, "--input", src, "--output", tmp_path / "out")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "translated 2 image(s)" in result.stdout
    assert Image.open(tmp_path / "out" / "a.png").size == (50, 40)
    assert np.asarray(Image.open(tmp_path / "out" / "b.png")).std() > 0


@pytest.fixture(scope="session")
def srgan_workdir(tmp_path_factory):
    return shared_workdir(tmp_path_factory, "cli-srgan", lambda w: train_tiny(
        w, "srgan", "--config.pretrain_steps=1", "--config.num_steps=3", "--config.image_size=32",
        "--config.batch_size=2", "--config.model.num_blocks=1", "--config.model.features=8",
        "--config.model.d_features=8", "--config.num_samples=1", "--config.checkpoint_every=1",
        "--config.keep_checkpoints=1"))


def test_the_end_of_srresnet_pretraining_is_kept(srgan_workdir):
    assert sorted(int(p.name) for p in (srgan_workdir / "checkpoints").iterdir() if p.name.isdigit()) == [1, 3]


def test_infer_upscales_a_folder_x4_and_tiles_seamlessly(srgan_workdir, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (30, 45, 3), np.uint8)).save(src / "photo.png")
    Image.fromarray(rng.integers(0, 255, (17, 23), np.uint8)).save(src / "gray.png")
    (src / "corrupt.jpg").write_bytes(b"\xff\xd8 broken")
    whole = run("infer.py", "--workdir", srgan_workdir, "--input", src, "--output", tmp_path / "whole", "--tile", 64)
    assert whole.returncode == 0, whole.stderr[-3000:]
    assert "corrupt.jpg" in whole.stderr and "translated 2 image(s)" in whole.stdout and "megapixels/s" in whole.stdout
    assert Image.open(tmp_path / "whole" / "photo.png").size == (180, 120)
    assert Image.open(tmp_path / "whole" / "gray.png").size == (92, 68)
    # receptive radius 10 with one block: 24-pixel tiles cut the 30x45 photo into 3 x 7 overlapping tiles
    tiled = run("infer.py", "--workdir", srgan_workdir, "--input", src / "photo.png", "--output", tmp_path / "tiled",
                "--tile", 24)
    assert tiled.returncode == 0, tiled.stderr[-3000:]
    a, b = (np.asarray(Image.open(tmp_path / d / "photo.png"), np.int16) for d in ("whole", "tiled"))
    assert np.abs(a - b).max() <= 1 and a.std() > 0
    import jaxgan                                                  # the Python API gives infer.py's images
    upscaled, = jaxgan.load(srgan_workdir).upscale([Image.open(src / "photo.png")], tile=24)
    np.testing.assert_array_equal(upscaled, b)
    small = run("infer.py", "--workdir", srgan_workdir, "--input", src, "--output", tmp_path / "x", "--tile", 8)
    assert small.returncode != 0 and "receptive radius" in small.stderr and "Traceback" not in small.stderr
