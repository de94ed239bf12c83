"""Input pipelines: embedded sets, image folders with odd files, determinism, host sharding, TFDS errors."""
import re

import numpy as np
import pytest
from PIL import Image

from conftest import eval_arrays, train_batches
from jaxgan.errors import DataError


def make_odd_folder(root):
    """Mixed sizes and modes in nested folders, one corrupt file, one non-image."""
    (root / "sub" / "deeper").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 60, 3), np.uint8)).save(root / "rgb.jpg")
    Image.fromarray(rng.integers(0, 255, (20, 10), np.uint8)).save(root / "sub" / "gray.png")
    Image.fromarray(rng.integers(0, 255, (33, 33, 4), np.uint8), "RGBA").save(root / "sub" / "rgba.png")
    Image.fromarray(rng.integers(0, 255, (16, 24), np.uint8)).convert("P").save(root / "sub" / "deeper" / "pal.gif")
    Image.fromarray(rng.integers(0, 65535, (12, 12), np.uint16)).save(root / "sub" / "deeper" / "sixteen.png")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    (root / "notes.txt").write_text("not an image")


def folder_config(tiny, path, **kw):
    return tiny("dcgan", **{"data.source": "folder", "data.path": str(path), **kw})


@pytest.mark.parametrize("channels", [1, 3])
def test_folder_loader_handles_odd_images(tiny, tmp_path, channels, caplog):
    make_odd_folder(tmp_path / "data")
    config = folder_config(tiny, tmp_path / "data", **{"data.channels": channels, "batch_size": 4})
    batch = next(train_batches(config, report_dir=tmp_path))
    assert batch["image"].shape == (4, 16, 16, channels)
    assert batch["image"].dtype == np.float32
    assert -1 <= batch["image"].min() and batch["image"].max() <= 1
    # Skipped files are named (the full list is in the workdir); images below the size are a warning.
    assert re.search(r"skipped 1 unreadable image file\(s\) of split 'train': \S*broken.png; full list in", caplog.text)
    assert (tmp_path / "skipped_files.txt").read_text() == f"{tmp_path / 'data' / 'broken.png'}\n"
    assert "2 image(s) of split 'train' are smaller than 16 px and are upscaled" in caplog.text


def test_empty_or_missing_folder_is_a_clear_error(tiny, tmp_path):
    with pytest.raises(DataError, match="no readable images"):
        next(train_batches(folder_config(tiny, tmp_path)))
    with pytest.raises(DataError, match="is not a folder"):
        next(train_batches(folder_config(tiny, tmp_path / "nope")))


def take(iterator, n):
    return [next(iterator)["image"] for _ in range(n)]


def test_stream_is_deterministic_resumable_and_host_sharded(tiny):
    config = tiny("dcgan", batch_size=8)
    full = take(train_batches(config), 5)
    again = take(train_batches(config), 5)
    resumed = take(train_batches(config, 3), 2)
    np.testing.assert_array_equal(np.stack(full), np.stack(again))
    np.testing.assert_array_equal(np.stack(full[3:]), np.stack(resumed))
    hosts = [take(train_batches(config, process_index=h, process_count=2), 2) for h in range(2)]
    for step in range(2):
        np.testing.assert_array_equal(np.concatenate([hosts[0][step], hosts[1][step]]), full[step])
    assert not np.array_equal(full[0], full[1])


@pytest.mark.parametrize("recipe", ["pix2pix", "cyclegan"])
def test_whole_batch_decoding_equals_decoding_each_example(tiny_i2i, recipe, monkeypatch):
    """In-memory sets decode and augment a batch at once (random crop and flip per example): the same
    batches as the per-example path the other sources take."""
    from jaxgan.data.sources import ArraySource

    config = tiny_i2i(recipe, batch_size=4, **{"data.resize": "crop", "data.random_flip": True})   # load 36, crop 32
    batched = [next(train_batches(config, 2, process_index=h, process_count=2)) for h in range(2)]
    monkeypatch.setattr(ArraySource, "batched_decode", False)
    each = [next(train_batches(config, 2, process_index=h, process_count=2)) for h in range(2)]
    for got, want in zip(batched, each):
        assert got.keys() == want.keys() == {"A", "B"}
        for k in got:
            assert got[k].shape == (2, 32, 32, 3) and got[k].dtype == np.float32
            np.testing.assert_array_equal(got[k], want[k])


def test_index_stream_visits_every_example_once_per_epoch_and_resumes_mid_epoch():
    from jaxgan.data.sources import IndexSource

    source = IndexSource(7)

    def take(start, n, size=1):
        """n positions from ``start`` on, in batches of ``size``."""
        batches = source.batches(3, 0, size, start, size).take(n // size).as_numpy_iterator()
        numbers, positions, indices = zip(*batches)
        assert list(numbers) == list(range(n // size))
        return np.concatenate(positions), np.concatenate(indices)

    positions, indices = take(0, 21)
    np.testing.assert_array_equal(positions, np.arange(21))
    for epoch in range(3):
        assert sorted(indices[7 * epoch:7 * epoch + 7]) == list(range(7))
    assert not np.array_equal(indices[:7], indices[7:14])
    resumed_positions, resumed = take(10, 11)
    np.testing.assert_array_equal(resumed_positions, np.arange(10, 21))
    np.testing.assert_array_equal(resumed, indices[10:])
    for size, n in ((3, 18), (10, 20)):       # batches that straddle one epoch's end, or two
        batched_positions, batched = take(1, n, size)
        np.testing.assert_array_equal(batched_positions, np.arange(1, n + 1))
        np.testing.assert_array_equal(batched, indices[1:n + 1])


def test_rows_group_examples_for_critic_iterations(tiny):
    batch = next(train_batches(tiny("wgan", batch_size=4)))
    assert batch["image"].shape == (4, 5, 16, 16, 1)


def test_embedded_sets_and_held_out_split(tiny):
    digits = eval_arrays(tiny("dcgan"), "test")
    assert digits["image"].shape == (297, 16, 16, 1) and set(np.unique(digits["label"])) == set(range(10))
    assert digits["image"].dtype == np.float32 and digits["label"].dtype == np.int32     # each field its dtype
    faces = eval_arrays(tiny("dcgan", **{"data.source": "faces", "data.channels": 3}), "train")
    assert faces["image"].shape == (80, 16, 16, 3) and "label" not in faces


def test_the_embedded_digits_are_scikit_learns_read_without_importing_it():
    from sklearn.datasets import load_digits

    from jaxgan.data import embedded

    images, labels = embedded.sklearn_digits()
    reference = load_digits()
    np.testing.assert_array_equal(images, reference.images / 16.0)
    np.testing.assert_array_equal(labels, reference.target)


def test_an_embedded_set_is_built_once_and_no_caller_can_change_the_kept_copy():
    from jaxgan.data import embedded

    first, again = (embedded.load_captioned("coloured_digits", "test", 8) for _ in range(2))
    assert again["image"] is first["image"] and again is not first and again["captions"] is not first["captions"]
    with pytest.raises(ValueError, match="read-only"):
        first["image"][0] = 0
    first["captions"].clear()                        # the caller's own container
    first["image"] = None
    fresh = embedded.load_captioned("coloured_digits", "test", 8)
    assert len(fresh["captions"]) == 297 and fresh["image"].shape == (297, 8, 8, 3)


def test_unprepared_tfds_dataset_says_how_to_prepare(tiny, tmp_path):
    config = tiny("dcgan", **{"data.source": "tfds", "data.name": "mnist", "data.data_dir": str(tmp_path)})
    with pytest.raises(DataError, match="not prepared.*tfds build mnist"):
        next(train_batches(config))


def test_side_by_side_pointed_at_a_two_folder_tree_names_the_right_layout(tiny_i2i, tmp_path):
    for side in "AB":
        (tmp_path / side / "train").mkdir(parents=True)
        Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / side / "train" / "x.png")
    config = tiny_i2i("pix2pix", **{"data.source": "folder", "data.layout": "side_by_side", "data.path": str(tmp_path)})
    with pytest.raises(DataError, match="that is data.layout=two_folders"):
        next(train_batches(config))


def test_a_misspelt_tfds_name_suggests_the_closest_in_one_line(tiny):
    config = tiny("dcgan", **{"data.source": "tfds", "data.name": "mnistt"})
    with pytest.raises(DataError) as error:
        next(train_batches(config))
    assert "did you mean mnist" in str(error.value) and "\n" not in str(error.value)


def test_a_source_without_the_recipes_fields_or_layout_is_a_clear_error(tiny, tiny_i2i):
    with pytest.raises(DataError, match="yields image, label; this recipe needs A, B"):
        next(train_batches(tiny_i2i("pix2pix", **{"data.source": "digits", "data.channels": 1})))
    with pytest.raises(DataError, match="has no layout 'side_by_side'"):
        next(train_batches(tiny("dcgan", **{"data.source": "tfds", "data.name": "mnist", "data.layout": "side_by_side"})))
