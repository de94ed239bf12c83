"""StarGAN: label tiling, the two-headed critic, its losses and targets, domain folders and CelebA-style
attributes, resume across the critic loop, and infer.py --target."""
import functools
import logging
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from conftest import (CONV_FLAG, eval_arrays, load_config, run_script,
                      run_steps, shared_workdir, tiny_config, traced, train_batches)
from jaxgan import adversarial, losses, models, recipes
from jaxgan.data import resolve
from jaxgan.errors import DataError
from jaxgan.state import NetState
from jaxgan.train import Trainer

HAIR = ("Black_Hair", "Blond_Hair", "Brown_Hair")


tiny_stargan = functools.partial(tiny_config, "stargan")


# ------------------------------------------------------------------------------------------ networks
def test_the_target_label_is_tiled_into_extra_input_channels():
    x = jnp.zeros((2, 3, 5, 3))
    c = jnp.array([[1.0, 0.0], [0.25, 0.5]])
    tiled = models.tile_condition(x, c)
    assert tiled.shape == (2, 3, 5, 5)
    np.testing.assert_array_equal(tiled[..., 3:], np.broadcast_to(np.asarray(c)[:, None, None], (2, 3, 5, 2)))
    G = models.ResNetGenerator(3, 1, 8, "instance_affine", kernel_size=4, padding_mode="zeros", use_bias=False)
    variables = G.init(jax.random.PRNGKey(0), jnp.zeros((2, 16, 12, 3)), c, train=False)
    assert variables["params"]["Conv_0"]["kernel"].shape == (7, 7, 5, 8)      # 3 image + 2 label channels
    out = G.apply(variables, jnp.zeros((2, 16, 12, 3)), c)
    assert out.shape == (2, 16, 12, 3)
    assert not np.allclose(out[0], out[1])                                     # the label changes the output


def test_the_critic_has_a_patch_head_and_a_domain_head():
    D = models.StarGANDiscriminator(image_size=32, num_domains=5, features=8, num_layers=4)
    variables, (patches, domains) = traced(D, jax.ShapeDtypeStruct((3, 32, 32, 3), jnp.float32))
    assert patches.shape == (3, 2, 2) and domains.shape == (3, 5)
    assert variables["params"]["Conv_5"]["kernel"].shape == (2, 2, 64, 5)      # over the whole 2x2 grid
    with pytest.raises(ValueError, match="takes 32x32"):
        jax.eval_shape(D.apply, variables, jax.ShapeDtypeStruct((1, 64, 64, 3), jnp.float32))


# -------------------------------------------------------------------------------------------- losses
def test_classification_losses_match_their_closed_forms():
    logits = jnp.array([[0.0, 0.0, 0.0], [2.0, -1.0, 0.5]])
    multi = jnp.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    expected_bce = (3 * np.log(2) + (np.log1p(np.e ** 2) + np.log1p(np.e) + np.log1p(np.exp(-0.5)))) / 2
    np.testing.assert_allclose(losses.domain_classification(logits, multi, True), expected_bce, rtol=1e-6)
    one_hot = jnp.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    lse = np.log(np.exp(2.0) + np.exp(-1.0) + np.exp(0.5))
    np.testing.assert_allclose(losses.domain_classification(logits, one_hot, False), (np.log(3) + lse - 2.0) / 2,
                               rtol=1e-6)


class LinearTwoHeads:
    """A stand-in two-headed critic: patches = <w, x> summed per image (gradient w everywhere), domains = 0."""

    def __init__(self, w):
        self.w = w

    def apply(self, variables, x, mutable=(), rngs=None):
        patches = jnp.sum(x * variables["params"]["w"], axis=(1, 2, 3))[:, None, None]
        return (patches, jnp.zeros((x.shape[0], 2))), {}


@pytest.mark.parametrize("scale", [0.5, 3.0])
def test_the_gradient_penalty_reads_the_patch_head_with_a_known_gradient_norm(scale):
    """For a linear critic the input gradient is w at every interpolate: penalty = (||w|| - 1)^2."""
    import optax

    w = jnp.full((1, 4, 4, 3), scale / np.sqrt(48.0))               # ||w|| = scale
    d = NetState(params={"w": w}, batch_stats={}, opt_state=optax.sgd(0.0).init({"w": w}))
    real, fake = jnp.ones((2, 4, 4, 3)), -jnp.ones((2, 4, 4, 3))
    labels = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    _, metrics = adversarial.discriminator_update(
        LinearTwoHeads(w), d, optax.sgd(0.0), real, fake, "wasserstein", gp_weight=10.0, rng=jax.random.PRNGKey(0),
        real_aux_loss=lambda logits: (losses.domain_classification(logits, labels, False), {}))
    np.testing.assert_allclose(metrics["gradient_penalty"], (scale - 1.0) ** 2, rtol=1e-5)
    critic = -2.0 * scale * np.sqrt(48.0)                            # E[D(fake)] - E[D(real)]
    np.testing.assert_allclose(metrics["d_loss"], critic + 10.0 * (scale - 1.0) ** 2 + np.log(2), atol=1e-4)


def _attribute_recipe():
    """The StarGAN target logic for CelebA's default attributes, without building networks."""
    recipe = recipes.stargan.StarGAN.__new__(recipes.stargan.StarGAN)
    recipe.names, recipe.multi_label = HAIR + ("Male", "Young"), True
    recipe.groups = recipes.stargan.exclusive_groups(recipe.names, load_config("stargan").data.exclusive)
    return recipe


def test_targets_are_shuffled_labels_with_each_exclusive_group_one_hot():
    recipe = _attribute_recipe()
    assert recipe.groups == ((0, 1, 2),)
    labels = np.random.default_rng(0).integers(0, 2, (64, 5)).astype(np.float32)
    key = jax.random.PRNGKey(1)
    targets = np.asarray(recipe.sample_targets(key, jnp.asarray(labels)))
    source = labels[np.asarray(jax.random.permutation(jax.random.split(key)[0], 64))]   # the shuffled real rows
    assert not np.array_equal(source, labels)
    np.testing.assert_array_equal(targets[:, 3:], source[:, 3:])
    hair = targets[:, :3].sum(1)
    np.testing.assert_array_equal(hair, source[:, :3].sum(1) > 0)         # one hair colour where any was on
    assert np.all(targets[:, :3] <= source[:, :3])                         # ... and one of those


def test_target_labels_switch_attributes_within_exclusive_groups():
    recipe = _attribute_recipe()
    own = jnp.array([[1.0, 0.0, 0.0, 1.0, 1.0]])
    np.testing.assert_array_equal(recipe.target_labels(own, "Blond_Hair,Male=0"), [[0, 1, 0, 0, 1]])
    np.testing.assert_array_equal(recipe.target_labels(own, "Young=0,Black_Hair=0"), [[0, 0, 0, 1, 0]])


# ---------------------------------------------------------------------------------------------- data
def _domain_folder(root: Path, domains: dict[str, int], size=(20, 24)) -> Path:
    rng = np.random.default_rng(0)
    for name, count in domains.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 255, size + (3,), np.uint8)).save(root / name / f"{i}.png")
    return root


def test_domain_folders_label_by_sorted_sub_folder_and_warn_about_stray_files(tmp_path, caplog):
    root = _domain_folder(tmp_path / "d", {"zebra": 3, "cat": 2, "dog": 2})
    Image.new("RGB", (8, 8)).save(root / "stray.png")
    config = tiny_stargan(**{"data.source": "folder", "data.layout": "domains", "data.path": str(root)})
    with caplog.at_level(logging.WARNING):
        recipe = recipes.build(config)
    assert recipe.names == ("cat", "dog", "zebra")
    assert "1 image file(s) directly in" in caplog.text and "stray.png" in caplog.text
    batch = next(train_batches(config))
    assert batch["image"].shape == (4, 2, 16, 16, 3) and batch["domain"].shape == (4, 2, 3)
    assert set(batch["domain"].sum(-1).ravel()) == {1.0}
    assert eval_arrays(config, "test") is None                      # no test/ folder: no held-out figures


def test_an_empty_or_single_domain_is_one_clear_error(tmp_path):
    root = _domain_folder(tmp_path / "d", {"cat": 2, "dog": 0})
    config = tiny_stargan(**{"data.source": "folder", "data.layout": "domains", "data.path": str(root)})
    with pytest.raises(DataError, match="domain 'dog' has no images"):
        next(train_batches(config))
    single = _domain_folder(tmp_path / "s", {"cat": 2})
    with pytest.raises(DataError, match="at least two domains.*got 1: cat"):
        recipes.build(tiny_stargan(**{"data.source": "folder", "data.layout": "domains", "data.path": str(single)}))


def test_train_and_test_domain_folders_give_held_out_figures(tmp_path):
    _domain_folder(tmp_path / "d" / "train", {"a": 4, "b": 4})
    _domain_folder(tmp_path / "d" / "test", {"a": 2, "b": 3})
    config = tiny_stargan(**{"data.source": "folder", "data.layout": "domains", "data.path": str(tmp_path / "d")})
    held_out = eval_arrays(config, "test")
    assert held_out["image"].shape == (5, 16, 16, 3)
    np.testing.assert_array_equal(held_out["domain"].argmax(-1), [0, 0, 1, 1, 1])


@functools.cache
def _fake_celeb_a_builder():
    """A TFDS builder laid out like celeb_a (image + boolean attributes), registered once per process."""
    import tensorflow_datasets as tfds

    names = HAIR + ("Gray_Hair", "Male", "Young", "Smiling")

    class FakeCelebA(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(None, None, 3)),
                "attributes": {n: tfds.features.Tensor(shape=(), dtype=np.bool_) for n in names}}))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(0, 12), "test": self._generate_examples(1, 6)}

        def _generate_examples(self, seed, count):
            rng = np.random.default_rng(seed)
            for i in range(count):
                attributes = {n: bool(rng.integers(0, 2)) for n in names}
                yield i, {"image": rng.integers(0, 255, (27, 22, 3), np.uint8), "attributes": attributes}

    return FakeCelebA


def _fake_celeb_a(data_dir: Path) -> dict[str, str]:
    """The fake celeb_a set prepared offline in ``data_dir``; the config fields that read it."""
    _fake_celeb_a_builder()(data_dir=str(data_dir)).download_and_prepare()
    return {"data.source": "tfds", "data.name": "fake_celeb_a", "data.data_dir": str(data_dir),
            "data.layout": "attributes"}


def test_celeb_a_style_attributes_become_multi_hot_labels(tmp_path):
    fields = _fake_celeb_a(tmp_path)
    config = tiny_stargan(**fields)
    batch = next(train_batches(config))
    assert batch["image"].shape == (4, 2, 16, 16, 3) and batch["domain"].shape == (4, 2, 5)
    assert set(np.unique(batch["domain"])) <= {0.0, 1.0}
    with pytest.raises(DataError, match="no attribute.*Blnd_Hair.*did you mean Blond_Hair"):
        next(train_batches(tiny_stargan(**fields, **{"data.attributes": ("Blnd_Hair", "Male")})))


def test_unprepared_celeb_a_says_how_to_prepare_it(tmp_path):
    config = tiny_stargan(**{"data.source": "tfds", "data.name": "celeb_a", "data.layout": "attributes",
                             "data.data_dir": str(tmp_path)})
    with pytest.raises(DataError, match="not prepared.*tfds build celeb_a"):
        next(train_batches(config))


# ------------------------------------------------------------------------------------------ training
def test_stargan_trains_across_the_critic_loop_and_evaluates(tmp_path, short_classifier_training):
    devices = jax.devices()[:1]
    straight = Trainer(tiny_stargan(), tmp_path / "straight", devices=devices)
    metrics = run_steps(straight, 4)
    assert all(np.isfinite(list(m.values())).all() for m in metrics)
    assert metrics[0]["g_loss"] != metrics[-1]["g_loss"] and metrics[-1]["gradient_penalty"] > 1e-6
    assert {"d_classification", "g_classification", "reconstruction", "wasserstein_estimate"} <= set(metrics[0])
    results = straight.recipe.evaluate(straight.recipe.generator_variables(straight.state),
                                       eval_arrays(straight.config, "train"), eval_arrays(straight.config, "test"))
    assert 0 <= results["domain_accuracy"] <= 1 and results["domain_accuracy_real"] > 0.9
    assert results["domain_accuracy_untranslated"] < 0.1 and 0 < results["reconstruction_l1"] < 2
    assert 0 <= results["content_kept"] <= 1 and results["content_accuracy_real"] > 0.5
    grid = straight.sample_grid()
    assert grid.shape == (2, 16, 16 * 5, 3)                       # input | one column per domain (4)
    straight.close()


def test_eight_devices_match_one(tmp_path):
    """With SGD: the label channels' first-layer weights get gradients at float-noise level (instance norm
    cancels a constant channel except at the borders), which Adam would turn into full +-lr steps."""
    from conftest import assert_one_and_eight_devices_agree

    sgd = {"optim.g.name": "sgd", "optim.d.name": "sgd", "optim.g.lr": 1e-2, "optim.d.lr": 1e-2}
    assert_one_and_eight_devices_agree(lambda: tiny_stargan(batch_size=8, **{"model.d_layers": 2}, **sgd), tmp_path, 2)


def test_the_critic_schedule_counts_training_steps_not_its_updates():
    from jaxgan import optim

    config = tiny_stargan(num_steps=10)
    critic = optim.learning_rate(config.optim.d, 10, updates_per_step=config.gan.n_critic)
    # linear decay from step 5 of 10: after 8 training steps (16 critic updates) the rate is 0.4 x lr
    np.testing.assert_allclose(critic(16), 0.4e-4, rtol=1e-5)
    np.testing.assert_allclose(optim.learning_rate(config.optim.g, 10)(8), 0.4e-4, rtol=1e-5)


# ------------------------------------------------------------------------------------------ infer.py
TINY_FLAGS = ("--config.num_steps=2", "--config.image_size=16", "--config.batch_size=4", "--config.gan.n_critic=2",
              "--config.model.num_blocks=1", "--config.model.g_features=8", "--config.model.d_features=8",
              "--config.model.d_layers=3", "--config.num_samples=2", "--config.evaluate=False", CONV_FLAG)


@pytest.fixture(scope="session")
def stargan_workdir(tmp_path_factory):
    def train(workdir):
        result = run_script("train.py", "--config", "configs/stargan.py", "--workdir", workdir, *TINY_FLAGS)
        assert result.returncode == 0, result.stderr[-3000:]

    return shared_workdir(tmp_path_factory, "stargan", train)


def _mixed_folder(src: Path) -> None:
    (src / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (30, 45, 3), np.uint8)).save(src / "wide.jpg")
    Image.fromarray(rng.integers(0, 255, (17, 21), np.uint8)).save(src / "sub" / "gray.png")
    (src / "broken.png").write_bytes(b"not an image")


def test_infer_translates_a_folder_to_one_domain_or_all(stargan_workdir, tmp_path):
    src = tmp_path / "in"
    _mixed_folder(src)
    one = run_script("infer.py", "--workdir", stargan_workdir, "--input", src, "--output", tmp_path / "neon", "--target", "neon")
    assert one.returncode == 0, one.stderr[-3000:]
    assert "translated 2 image(s)" in one.stdout and "broken.png" in one.stderr
    sizes = {p.relative_to(tmp_path / "neon").as_posix(): Image.open(p).size for p in (tmp_path / "neon").rglob("*.*")}
    assert sizes == {"wide.jpg": (45, 30), "sub/gray.png": (21, 17)}
    every = run_script("infer.py", "--workdir", stargan_workdir, "--input", src, "--output", tmp_path / "all", "--target", "all")
    assert every.returncode == 0, every.stderr[-3000:]
    written = sorted(p.relative_to(tmp_path / "all").as_posix() for p in (tmp_path / "all").rglob("*.*"))
    assert written == sorted(f"{d}/{f}" for d in ("blueprint", "chalk", "gold", "neon") for f in ("sub/gray.png", "wide.jpg"))
    neon = np.asarray(Image.open(tmp_path / "neon" / "wide.jpg"), np.float32)
    np.testing.assert_allclose(np.asarray(Image.open(tmp_path / "all" / "neon" / "wide.jpg"), np.float32), neon, atol=2)
    assert not np.allclose(np.asarray(Image.open(tmp_path / "all" / "gold" / "wide.jpg"), np.float32), neon, atol=2)


def test_an_unknown_target_is_one_line_listing_the_known_ones(stargan_workdir, tmp_path):
    src = tmp_path / "in"
    _mixed_folder(src)
    result = run_script("infer.py", "--workdir", stargan_workdir, "--input", src, "--output", tmp_path / "o", "--target", "pink")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "unknown --target 'pink'; this run knows chalk, neon, gold, blueprint" in result.stderr
    missing = run_script("infer.py", "--workdir", stargan_workdir, "--input", src, "--output", tmp_path / "o")
    assert missing.returncode != 0 and "needs --target: one of chalk, neon, gold, blueprint, or all" in missing.stderr


def test_attribute_models_switch_named_attributes_from_the_estimated_own_ones(tmp_path):
    config = tiny_stargan(num_steps=2, **_fake_celeb_a(tmp_path / "tfds"), **{"data.random_flip": True})
    Trainer(config, tmp_path / "w", devices=jax.devices()[:1]).fit()       # the fake TFDS set lives in this process
    src = tmp_path / "in"
    _mixed_folder(src)
    out = run_script("infer.py", "--workdir", tmp_path / "w", "--input", src, "--output", tmp_path / "o",
              "--target", "Blond_Hair,Male=0")
    assert out.returncode == 0, out.stderr[-3000:]
    assert Image.open(tmp_path / "o" / "wide.jpg").size == (45, 30)
    bad = run_script("infer.py", "--workdir", tmp_path / "w", "--input", src, "--output", tmp_path / "b", "--target", "Bald")
    assert bad.returncode != 0 and "this run knows Black_Hair, Blond_Hair, Brown_Hair, Male, Young" in bad.stderr




def test_the_content_figures_alone_are_refused_when_the_run_is_built():
    from jaxgan.errors import ConfigError

    with pytest.raises(ConfigError, match="name both: --config.eval.figures=domains,content"):
        recipes.build(resolve(tiny_stargan(**{"eval.figures": "content"})))
