"""Prepared data sets, fast folders and tf.data service: the same batches as the data they came from,
resume anywhere, unreadable files and records that never stop training, the folder index cache."""
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from conftest import CONV_FLAG, ROOT, eval_arrays, run_script, train_batches
from jaxgan.errors import DataError


def photos(root, count, low=24, high=90, seed=0, ext="png"):
    """``count`` random RGB images of random sizes under ``root`` (nested), JPEG and PNG alternating."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        path = root / f"d{i % 3}" / f"{i:03d}.{ext if i % 2 else 'jpg'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        size = rng.integers(low, high, 2)
        Image.fromarray(rng.integers(0, 255, (size[0], size[1], 3), np.uint8)).save(path)
    return root


def prepare(config, out, **kw):
    """``python -m jaxgan.prepare``'s work, in this process."""
    from jaxgan import data
    from jaxgan.data import prepared
    from jaxgan.data.registry import layout_of

    sys.path.insert(0, str(ROOT))
    from jaxgan.prepare import _entries

    config = data.resolve(config)
    splits = list(dict.fromkeys([config.data.split, config.data.eval_split]))
    return prepared.prepare(config, out, _entries(config, splits), layout_of(config.data), **kw)


def as_prepared(config, out):
    c = type(config)(config.to_dict())
    c.data.source, c.data.path, c.data.layout = "prepared", str(out), ""
    return c


def assert_streams_equal(a, b, batches, start=0):
    left, right = train_batches(a, start), train_batches(b, start)
    for step in range(batches):
        got, want = next(left), next(right)
        assert got.keys() == want.keys()
        for k in got:
            np.testing.assert_array_equal(got[k], want[k], err_msg=f"{k} at step {start + step}")


def test_a_prepared_folder_gives_the_folders_batches_at_any_step_and_its_eval_images(tiny, tmp_path):
    folder = photos(tmp_path / "faces", 30)
    config = tiny("dcgan", **{"data.source": "folder", "data.path": str(folder), "data.channels": 3,
                              "data.random_flip": True})
    manifest = prepare(config, tmp_path / "faces-16")
    assert list(manifest["entries"]) == ["train-16"] and manifest["entries"]["train-16"]["num"] == 30
    prepared = as_prepared(config, tmp_path / "faces-16")
    assert_streams_equal(config, prepared, 6)
    start = time.perf_counter()
    assert_streams_equal(config, prepared, 2, start=10 ** 7)        # far into training: no read-through
    assert time.perf_counter() - start < 30


def test_prepared_tiles_give_the_whole_images_crops_and_stitch_back_for_evaluation(tiny_sr, tmp_path):
    folder = tmp_path / "hr"
    photos(folder / "train", 6, 40, 130)
    photos(folder / "test", 2, 60, 100, seed=1)
    config = tiny_sr(**{"data.source": "folder", "data.path": str(folder)})          # 32-pixel crops
    manifest = prepare(config, tmp_path / "hr-p", tile=48)
    entry = manifest["entries"]["train-own"]
    assert entry["tiles"] == {"grid": "hr", "tile": 48, "overlap": 32, "scales": {"hr": 1}}
    with np.load(tmp_path / "hr-p" / "train-own" / "index.npz") as index:
        assert len(index["record_length"]) > 6                       # several tiles per image
    prepared = as_prepared(config, tmp_path / "hr-p")
    assert_streams_equal(config, prepared, 8)
    for split in ("train", "test"):
        whole, stitched = eval_arrays(config, split), eval_arrays(prepared, split)
        assert len(whole["hr"]) == len(stitched["hr"]) > 0
        for a, b in zip(whole["hr"], stitched["hr"]):
            np.testing.assert_array_equal(a, b)
    bigger = tiny_sr(**{"data.source": "prepared", "data.path": str(tmp_path / "hr-p"), "image_size": 40})
    with pytest.raises(DataError, match="prepared for random crops of up to 32 pixels of hr; this run crops 40"):
        next(train_batches(bigger))


def test_an_unpaired_set_prepares_each_side_and_a_mismatched_config_is_one_line(tiny_i2i, tmp_path):
    root = tmp_path / "h2z"
    for side, seed in (("trainA", 0), ("trainB", 1), ("testA", 2), ("testB", 3)):
        photos(root / side, 5 + seed, 40, 60, seed=seed)
    config = tiny_i2i("cyclegan", **{"data.source": "folder", "data.layout": "unpaired", "data.path": str(root),
                                     "data.random_flip": True})
    manifest = prepare(config, tmp_path / "h2z-p", encoding="png")
    assert sorted(manifest["entries"]) == ["test-32-A", "test-32-B", "train-32-A", "train-32-B", "train-36-A",
                                           "train-36-B"]
    assert {e["num"] for n, e in manifest["entries"].items() if n.startswith("train-36")} == {5, 6}
    prepared = as_prepared(config, tmp_path / "h2z-p")
    assert_streams_equal(config, prepared, 5)
    other = as_prepared(config, tmp_path / "h2z-p")
    other.data.load_size = 40
    with pytest.raises(DataError, match=r"has no entry train-40-A .*it has test-32-A"):
        next(train_batches(other))
    grey = as_prepared(config, tmp_path / "h2z-p")
    grey.data.channels = 1
    with pytest.raises(DataError, match="prepared with data.channels=3; this run has 1"):
        next(train_batches(grey))


def test_a_prepared_embedded_set_gives_its_batches_far_into_training(tiny, tmp_path):
    config = tiny("dcgan", **{"data.random_flip": True})
    prepare(config, tmp_path / "digits-16")
    prepared = as_prepared(config, tmp_path / "digits-16")
    assert_streams_equal(config, prepared, 2, start=123_456_789)
    np.testing.assert_array_equal(eval_arrays(config, "test")["label"], eval_arrays(prepared, "test")["label"])


def test_damaged_records_and_files_found_while_training_are_replaced_counted_and_never_stop_it(
        tiny, tmp_path, caplog, monkeypatch):
    from jaxgan.data import prepared

    folder = photos(tmp_path / "faces", 12, ext="png")
    config = tiny("dcgan", **{"data.source": "folder", "data.path": str(folder), "data.channels": 3,
                              "batch_size": 4})
    prepare(config, tmp_path / "png", encoding="png")
    monkeypatch.setattr(prepared, "SHARD_BYTES", 2000)                # two raw 16x16 records a shard
    prepare(config, tmp_path / "raw")
    png = tmp_path / "png" / "train-16" / "records-00000.bin"          # a PNG record's pixels damaged
    data = bytearray(png.read_bytes())
    data[300:600] = bytes(300)
    png.write_bytes(bytes(data))
    raw = tmp_path / "raw" / "train-16" / "records-00002.bin"          # a raw shard cut short
    raw.write_bytes(raw.read_bytes()[:-100])
    victim, deleted = sorted(folder.rglob("*.png"))[:2]
    next(train_batches(config))                                        # their headers are read while whole
    victim.write_bytes(victim.read_bytes()[:60])                       # then one's pixels are lost
    deleted.unlink()                                                   # and another file is deleted
    cases = ((as_prepared(config, tmp_path / "png"), 1, "replaced by the next readable one: example"),
             (as_prepared(config, tmp_path / "raw"), 0, "(shard records-00002.bin missing or damaged)"),
             (config, 2, f"replaced by the next readable one: {victim}"))
    for c, found, reported in cases:
        caplog.clear()
        stream = train_batches(c, report_dir=tmp_path)
        batches = [next(stream)["image"] for _ in range(9)]            # 3 epochs: every example read
        assert all(np.isfinite(b).all() and b.shape == (4, 16, 16, 3) for b in batches)
        assert stream.found == found and reported in caplog.text, caplog.text
        resumed = train_batches(c, 7)                                  # a resume equals the recovered stream
        np.testing.assert_array_equal(next(resumed)["image"], batches[7])
    assert re.search(r"skipped 1 unreadable example\(s\) at step \d, replaced by the next readable one: "
                     + re.escape(str(victim)), caplog.text)
    assert {str(victim), str(deleted)} <= set((tmp_path / "skipped_files.txt").read_text().splitlines())


def test_the_folder_index_reads_each_header_once_and_again_only_for_changed_files(tiny, tmp_path, monkeypatch):
    from jaxgan.data import folders

    folder = photos(tmp_path / "faces", 8)
    cache = str(tmp_path / "cache")
    read = []
    original = folders._header
    monkeypatch.setattr(folders, "_header", lambda path: read.append(os.path.basename(path)) or original(path))

    def scan():
        folders._scanned.clear()                     # as a new process would
        return folders.scan(folder, cache)

    first = scan()
    assert len(read) == 8 and len(first.files) == 8
    read.clear()
    assert scan().files == first.files and read == []
    changed = first.files[0]
    Image.fromarray(np.zeros((5, 7, 3), np.uint8)).save(changed)
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(folder / "new.png")
    again = scan()
    assert sorted(read) == sorted([os.path.basename(changed), "new.png"]) and len(again.files) == 9
    assert (again.width[0], again.height[0]) == (7, 5)
    (folder / "new.png").unlink()
    read.clear()
    assert len(scan().files) == 8 and read == []


def test_tf_decoding_equals_pils_and_resizing_is_within_a_few_levels(tmp_path):
    from jaxgan.data import decode, images
    from jaxgan.data.folders import _header
    from jaxgan.data.tf_host import tensorflow

    tf = tensorflow()
    rng = np.random.default_rng(0)
    base = np.asarray(Image.fromarray(rng.integers(0, 255, (9, 13, 3), np.uint8)).resize((91, 67), Image.BICUBIC))
    Image.fromarray(base).save(tmp_path / "a.jpg", quality=85)
    Image.fromarray(base[..., 0]).save(tmp_path / "grey.jpg")
    Image.fromarray(base).save(tmp_path / "a.png")
    Image.fromarray(base).convert("P").save(tmp_path / "palette.png")
    kinds = {}
    for name in ("a.jpg", "grey.jpg", "a.png", "palette.png"):
        path = tmp_path / name
        kinds[name] = _header(path)[2]
        for channels in (1, 3):
            got = decode.decode_bytes(tf.io.read_file(str(path)), kinds[name], channels, tf.constant(str(path)),
                                      (kinds[name],)).numpy()
            np.testing.assert_array_equal(got, images.load_image(path, 0, channels), err_msg=f"{name} {channels}")
            for mode in ("crop", "stretch"):
                resized = decode.resized(tf.constant(got), 32, mode).numpy().astype(int)
                difference = np.abs(resized - images.load_image(path, 32, channels, mode))
                assert difference.max() <= 4 and difference.mean() < 0.3, (name, mode)
    assert [kinds[n] for n in ("a.jpg", "grey.jpg", "a.png", "palette.png")] == [decode.JPEG, decode.JPEG,
                                                                                decode.PNG, decode.PIL]


def test_tf_data_service_workers_give_the_same_stream_and_refuse_what_needs_python(tiny, tmp_path, monkeypatch):
    from jaxgan.data import service

    dispatcher = service.start_dispatcher()
    address = dispatcher.target.split("://")[-1]
    lonely = tiny("dcgan", **{"data.service": address})
    monkeypatch.setattr(service, "BATCH_S", 3.0)
    with pytest.raises(DataError, match=f"data.service={address}: no batch for 3 s; are the service's workers"):
        next(train_batches(lonely))                                  # a dispatcher without workers
    with pytest.raises(DataError, match="data.service=localhost:1: no tf.data service dispatcher answers there"):
        next(train_batches(tiny("dcgan", **{"data.service": "localhost:1"})))
    workers = [service.start_worker(address) for _ in range(2)]
    folder = photos(tmp_path / "faces", 10)
    config = tiny("dcgan", **{"data.source": "folder", "data.path": str(folder), "data.channels": 3,
                              "data.random_flip": True})
    served = type(config)(config.to_dict())
    served.data.service = address
    assert_streams_equal(config, served, 6)
    assert_streams_equal(config, served, 3, start=1000)
    Image.fromarray(np.zeros((30, 30), np.uint8)).convert("P").save(folder / "palette.gif")
    from jaxgan.data import folders
    folders._scanned.clear()
    with pytest.raises(DataError, match="data.service: this data set needs Python to decode"):
        next(train_batches(served))
    del workers, dispatcher


def test_the_prepare_command_writes_a_verifiable_set_that_train_py_reads(tmp_path):
    out = tmp_path / "digits"
    cmd = [sys.executable, "-m", "jaxgan.prepare", "--config", "configs/gan.py", "--config.image_size=8", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "train-8: 1500 examples" in done.stdout and "test-8: 297 examples" in done.stdout
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 1 and again.stderr.strip().splitlines()[-1].endswith("exists; choose another folder "
                                                                                    "or pass --overwrite")
    verify = [sys.executable, "-m", "jaxgan.prepare", "--verify", str(out)]
    assert subprocess.run(verify, cwd=ROOT, capture_output=True, text=True, timeout=120).returncode == 0
    shard = out / "train-8" / "records-00000.bin"
    data = bytearray(shard.read_bytes())
    data[10] ^= 1
    shard.write_bytes(bytes(data))
    failed = subprocess.run(verify, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert failed.returncode == 1 and "records-00000.bin (checksum differs)" in failed.stdout
    trained = run_script("train.py", "--config", "configs/gan.py", "--workdir", tmp_path / "run", CONV_FLAG,
                         "--config.image_size=8", "--config.num_steps=2", "--config.batch_size=8",
                         "--config.data.source=prepared", f"--config.data.path={out}", "--config.evaluate=False",
                         "--config.model.g_hidden=(16,)", "--config.model.d_hidden=(16,)")
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert (tmp_path / "run" / "checkpoints" / "2").is_dir()
