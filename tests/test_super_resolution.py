"""Super-resolution: models, the Keras VGG19 loader, LR/HR data, tiling, both training phases, evaluation."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from conftest import assert_one_and_eight_devices_agree, eval_arrays, run_steps, traced, train_batches
from jaxgan import tiling
from jaxgan.data.augment import aligned_sr_crop
from jaxgan.errors import ConfigError
from jaxgan.metrics import image_quality
from jaxgan.recipes.srgan import downscale
from jaxgan.reporting import Reporter
from jaxgan.train import Trainer
from jaxgan.models.super_resolution import SRGANDiscriminator, SRResNet
from jaxgan.models.vgg import VGG19Features, layer_names, load_vgg19_h5, write_random_vgg19_h5


def test_srresnet_upscales_and_discriminator_scores():
    lr = jax.ShapeDtypeStruct((2, 12, 12, 3), jnp.float32)
    for scale in (2, 4):
        out = traced(SRResNet(scale=scale, num_blocks=2, features=8), lr, train=False)[1]
        assert out.shape == (2, 12 * scale, 12 * scale, 3)
    hr = jax.ShapeDtypeStruct((2, 48, 48, 3), jnp.float32)
    assert traced(SRGANDiscriminator(features=8), hr, train=False)[1].shape == (2,)


def reference_features(x, weights, upto):
    """Keras 'caffe' preprocessing and VGG19 convs written out independently with lax."""
    h = (np.asarray(x) + 1.0) * 127.5
    h = h[..., [2, 1, 0]] - np.array([103.939, 116.779, 123.68])
    for name in layer_names():
        if name.endswith("conv1") and name != "block1_conv1":
            h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        kernel, bias = weights[name]
        h = jax.lax.conv_general_dilated(h, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        h = jnp.maximum(h + bias, 0.0)
        if name == upto:
            return h


@pytest.mark.parametrize("layer", ["block2_conv2", "block3_conv1"])
def test_vgg19_loader_maps_keras_layout(layer, tmp_path):
    weights = write_random_vgg19_h5(tmp_path / "vgg19.h5")
    variables = load_vgg19_h5(tmp_path / "vgg19.h5", layer)
    assert list(variables["params"]) == layer_names()[:layer_names().index(layer) + 1]
    x = jax.random.uniform(jax.random.PRNGKey(0), (1, 16, 16, 3), minval=-1, maxval=1)
    ours = VGG19Features(layer).apply(variables, x)
    np.testing.assert_allclose(ours, reference_features(x, weights, layer), rtol=1e-3, atol=1e-2)
    # Channel order matters: swapping R and B changes the features (the file expects BGR).
    assert not np.allclose(VGG19Features(layer).apply(variables, x[..., ::-1]), ours, atol=1e-2)


def test_esrgans_vgg_features_are_taken_before_the_relu(tmp_path):
    write_random_vgg19_h5(tmp_path / "vgg19.h5")
    variables = load_vgg19_h5(tmp_path / "vgg19.h5", "block2_conv2")
    x = jax.random.uniform(jax.random.PRNGKey(0), (1, 16, 16, 3), minval=-1, maxval=1)
    before = VGG19Features("block2_conv2", before_activation=True).apply(variables, x)
    after = VGG19Features("block2_conv2").apply(variables, x)
    assert float(before.min()) < 0 and float(after.min()) == 0.0
    np.testing.assert_allclose(jax.nn.relu(before), after, rtol=1e-6)


def test_missing_or_wrong_vgg_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_vgg19_h5(tmp_path / "absent.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(ConfigError, match="not a Keras VGG19 weights file"):
        load_vgg19_h5(tmp_path / "junk.h5")


# ------------------------------------------------------------------------------ receptive field, tiling
def empirical_radius(model, variables, side=40):
    """How far from the centre the input gradient of one central output pixel reaches."""
    x = jax.random.normal(jax.random.PRNGKey(1), (1, side, side, 3))
    c = side // 2 * model.scale

    def centre(x):
        return model.apply(variables, x, train=False)[0, c, c].sum()

    support = np.argwhere(np.abs(np.asarray(jax.jit(jax.grad(centre))(x)))[0].sum(-1) > 0)
    return int(np.max(np.abs(support - side // 2)))


@pytest.mark.parametrize("scale", [2, 4])
def test_receptive_radius_matches_the_gradient_support(scale):
    g = SRResNet(scale=scale, num_blocks=3, features=8)
    variables = jax.jit(lambda x: g.init(jax.random.PRNGKey(0), x, train=False))(jnp.zeros((1, 8, 8, 3)))
    measured = empirical_radius(g, variables)
    assert measured <= g.receptive_radius() <= measured + 1


def test_tiled_upscaling_equals_untiled():
    g = SRResNet(scale=4, num_blocks=2, features=8)
    variables = g.init(jax.random.PRNGKey(0), jnp.zeros((1, 8, 8, 3)), train=False)
    run = jax.jit(lambda x: g.apply(variables, x, train=False))
    image = np.asarray(jax.random.uniform(jax.random.PRNGKey(2), (45, 62, 3), minval=-1, maxval=1))
    whole = np.asarray(run(image[None]))[0]
    margin = g.receptive_radius()
    tiled = tiling.upscale_tiled(run, image, 4, 2 * margin + 5, margin, batch=3)
    assert tiled.shape == whole.shape == (180, 248, 3)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    # The overlap is what makes it exact: without a margin the seams differ.
    assert not np.allclose(tiling.upscale_tiled(run, image, 4, 20, 0), whole, atol=1e-3)
    with pytest.raises(ValueError, match="larger than twice"):
        tiling.upscale_tiled(run, image, 4, 2 * margin, margin)


# ------------------------------------------------------------------------------------------------ data
def test_bicubic_downscale_is_antialiased_like_pil():
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (64, 48, 3), np.uint8)
    hr[::2] = 255 - hr[::2]                             # high frequencies that must be filtered out
    ours = image_quality.to_unit(downscale(jnp.asarray(hr[None], jnp.float32) / 127.5 - 1.0, 4))[0] * 255
    pil = np.asarray(Image.fromarray(hr).resize((12, 16), Image.BICUBIC), np.float64)
    assert np.abs(ours - pil)[2:-2, 2:-2].max() <= 2.0          # interior: same filter (borders differ)
    assert np.abs(ours - hr[::4, ::4]).mean() > 20               # not a plain subsampling


@pytest.mark.parametrize("given_lr", [False, True])
def test_crops_stay_aligned_under_flips_and_rotations(given_lr):
    from jaxgan.data.tf_host import tensorflow
    tf = tensorflow()
    lr = np.random.default_rng(0).integers(0, 256, (20, 27, 3), np.uint8)
    hr = np.repeat(np.repeat(lr, 4, 0), 4, 1)                   # each LR pixel is a 4x4 HR block
    example = {"hr": tf.constant(hr), **({"lr": tf.constant(lr)} if given_lr else {})}
    seen = set()
    for position in range(16):
        out = aligned_sr_crop(example, tf.constant([0, position], tf.int64), hr_size=32, scale=4, augment=True)
        crop = out["hr"].numpy()
        assert crop.shape == (32, 32, 3)
        if given_lr:
            np.testing.assert_array_equal(np.repeat(np.repeat(out["lr"].numpy(), 4, 0), 4, 1), crop)
        seen.add(crop.tobytes())
    assert len(seen) > 8                                        # crops and orientations vary


def test_folder_sources_for_hr_images_and_given_pairs(tiny_sr, tmp_path):
    rng = np.random.default_rng(0)
    for name, shape in (("a.png", (40, 52, 3)), ("small.jpg", (20, 30, 3)), ("gray.png", (48, 36))):
        (tmp_path / "hr" / "HR").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, shape, np.uint8)).save(tmp_path / "hr" / "HR" / name)
    (tmp_path / "hr" / "HR" / "corrupt.png").write_bytes(b"broken")
    batch = next(train_batches(tiny_sr(**{"data.source": "folder", "data.path": str(tmp_path / "hr" / "HR")})))
    assert set(batch) == {"hr"} and batch["hr"].shape == (8, 32, 32, 3) and np.abs(batch["hr"]).max() <= 1
    (tmp_path / "hr" / "LR").mkdir()
    for f in (tmp_path / "hr" / "HR").glob("*.*"):
        if f.name != "corrupt.png":
            image = Image.open(f)
            image.resize((image.width // 4, image.height // 4), Image.BICUBIC).save(tmp_path / "hr" / "LR" / f.name)
    config = tiny_sr(**{"data.source": "folder", "data.path": str(tmp_path / "hr"), "data.layout": "lr_hr"})
    batch = next(train_batches(config))
    assert batch["hr"].shape == (8, 32, 32, 3) and batch["lr"].shape == (8, 8, 8, 3)


def test_tfds_sets_with_hr_and_lr_features(tiny_sr, tmp_path):
    """A TFDS set laid out like div2k (``hr``/``lr`` images), built offline: pairs stay aligned."""
    import tensorflow_datasets as tfds

    class FakeDiv2k(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            image = tfds.features.Image(shape=(None, None, 3))
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({"hr": image, "lr": image}))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(0, 3), "validation": self._generate_examples(1, 2)}

        def _generate_examples(self, seed, count):
            rng = np.random.default_rng(seed)
            for i in range(count):
                lr = rng.integers(0, 255, (12 + i, 10 + 2 * i, 3), np.uint8)
                yield i, {"hr": np.repeat(np.repeat(lr, 4, 0), 4, 1), "lr": lr}

    FakeDiv2k(data_dir=str(tmp_path)).download_and_prepare()
    fields = {"data.source": "tfds", "data.name": "fake_div2k", "data.data_dir": str(tmp_path),
              "data.eval_split": "validation"}
    config = tiny_sr(**fields, **{"data.layout": "lr_hr"})
    batch = next(train_batches(config))
    np.testing.assert_array_equal(np.repeat(np.repeat(batch["lr"], 4, 1), 4, 2), batch["hr"])
    held_out = eval_arrays(config, "validation")
    assert [x.shape for x in held_out["lr"]] == [(12, 10, 3), (13, 12, 3)]
    assert set(next(train_batches(tiny_sr(**fields)))) == {"hr"}          # layout hr: HR only


# ---------------------------------------------------------------------------------------------- training
def test_two_phases_train_and_resume_exactly_with_vgg_content(tiny_sr, tmp_path):
    write_random_vgg19_h5(tmp_path / "vgg.h5")
    config = tiny_sr(content_loss="vgg22", vgg_weights=str(tmp_path / "vgg.h5"), checkpoint_every=2)
    straight = Trainer(config, tmp_path / "straight", devices=jax.devices()[:1])
    metrics = run_steps(straight, 4)
    pre, gan = metrics[:2], metrics[2:]
    assert all(m["d_loss"] == 0 and m["g_content"] == m["pixel_mse"] for m in pre)      # SRResNet on MSE
    assert all(m["d_loss"] > 0 and m["g_adversarial"] > 0 and m["g_content"] != m["pixel_mse"] for m in gan)
    assert all(np.isfinite(list(m.values())).all() for m in metrics)
    assert pre[1]["pixel_mse"] != pre[0]["pixel_mse"]
    straight.close()

    first = Trainer(tiny_sr(content_loss="vgg22", vgg_weights=str(tmp_path / "vgg.h5"), num_steps=2),
                    tmp_path / "resumed", devices=jax.devices()[:1])
    first.fit()                                                 # the real loop, stopped at the phase boundary
    config_again = tiny_sr(content_loss="vgg22", vgg_weights=str(tmp_path / "vgg.h5"), checkpoint_every=2)
    resumed = Trainer(config_again, tmp_path / "resumed", devices=jax.devices()[:1])
    assert resumed.start_step == 2
    tail = run_steps(resumed, 2)
    for a, b in zip(jax.tree.leaves(jax.device_get(straight.state.nets)), jax.tree.leaves(jax.device_get(resumed.state.nets))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert tail[-1]["g_loss"] == pytest.approx(gan[-1]["g_loss"], rel=1e-5)
    resumed.close()


def test_eight_devices_match_one_in_the_gan_phase(tiny_sr, tmp_path):
    # SGD, not Adam: Adam's first steps are lr * sign(grad), which float noise flips for ~zero gradients.
    # Seed 1: seed 0's initial D leaves one batch-normalised pre-activation of the fakes 2e-7 from
    # LeakyReLU's kink, where the devices' different summation order flips its slope (D's first-layer
    # gradient then differs by 2%: a measure-zero point, not a sharding error).
    sgd = {"optim.g.name": "sgd", "optim.d.name": "sgd", "optim.g.lr": 0.05, "optim.d.lr": 0.05}
    assert_one_and_eight_devices_agree(lambda: tiny_sr(pretrain_steps=0, num_steps=1, seed=1, **sgd), tmp_path, 1)


def test_vgg_content_without_weights_is_one_clear_error(tiny_sr, tmp_path):
    with pytest.raises(ConfigError, match="needs VGG19 weights"):
        Trainer(tiny_sr(content_loss="vgg54"), tmp_path)
    with pytest.raises(ConfigError, match="multiple of config.scale"):
        Trainer(tiny_sr(image_size=30), tmp_path / "b")


def test_evaluation_scores_bicubic_and_the_model_on_whole_held_out_photos(tiny_sr, tmp_path):
    trainer = Trainer(tiny_sr(), tmp_path, devices=jax.devices()[:1])
    results = trainer.evaluate(0, Reporter(tmp_path, 1, 0, 1, False))
    trainer.close()
    assert 22 < results["bicubic_psnr"] < 35 and 0.5 < results["bicubic_ssim"] < 1
    assert results["held_out_psnr"] < results["bicubic_psnr"]               # an untrained SRResNet loses
    grid = trainer.sample_grid()                                # bicubic | SR | HR
    assert grid.shape == (2, 32, 96, 3)


def test_a_small_feature_upscaler_on_a_large_photo_stays_in_bounded_memory():
    """16 features, x4, a 600x400 photo in one piece (the worst case: no tiles): the 9x9 output conv at HR
    resolution would take a 40 GB im2col; the lowering keeps every layer's working set bounded."""
    G = SRResNet(4, 2, 16, 3)
    variables = G.init(jax.random.PRNGKey(0), jnp.zeros((1, 16, 16, 3)), train=False)
    compiled = jax.jit(lambda v, x: G.apply(v, x, train=False)).lower(variables, jnp.zeros((1, 400, 600, 3))).compile()
    assert compiled.memory_analysis().temp_size_in_bytes < 1 * 2**30


def test_an_x2_rrdbnet_upscales_an_odd_sized_image_in_tiles_equal_to_one_pass():
    """RRDBNet x2 runs on pixel-unshuffled input: the image is padded and the tiles aligned to 2, and tiles
    overlapping by its receptive radius give the untiled output."""
    from jaxgan import recipes
    from conftest import tiny_config

    config = tiny_config("esrgan")
    config.scale = 2
    recipe = recipes.build(config)
    assert recipe.generator_spec.size_multiple == 2 and recipe.receptive_radius == 2 * (15 + 4 + 1)
    with pytest.raises(ConfigError, match="must be a multiple of 2"):
        recipes.build(tiny_config("esrgan", scale=2, image_size=34))
    variables = recipe.G.init(jax.random.PRNGKey(0), jnp.zeros((1, 8, 8, 3)), train=False)
    image = np.tanh(np.random.default_rng(0).standard_normal((101, 95, 3))).astype(np.float32)
    whole = np.asarray(recipe.predict({"G": variables}, np.pad(image, ((0, 1), (0, 1), (0, 0)), mode="reflect")[None]))
    tiled = recipe.upscale({"G": variables}, image, tile=93)                       # (rounded down to 92)
    assert tiled.shape == (202, 190, 3)
    np.testing.assert_allclose(tiled, whole[0, :202, :190], atol=1e-5)


def test_esrgan_pretrains_on_l1_then_plays_the_relativistic_game_against_a_spectral_norm_discriminator(tmp_path):
    from conftest import tiny_config

    config = tiny_config("esrgan", num_steps=4, **{"model.d_norm": "spectral"})
    trainer = Trainer(config, tmp_path / "run", devices=jax.devices()[:1])
    metrics = run_steps(trainer, 4)
    trainer.close()
    pre, gan = metrics[:2], metrics[2:]
    assert all(np.isfinite(list(m.values())).all() for m in metrics)
    assert all(m["d_loss"] == 0 and m["g_content"] != m["pixel_mse"] for m in pre)       # L1, beside the MSE
    assert all(m["d_loss"] > 0 and m["g_adversarial"] > 0 and 0 < m["d_real"] < 1 for m in gan)
    paths = [jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_leaves_with_path(trainer.state.nets["D"].batch_stats)]
    assert paths and all("sigma" in p or "/u" in p for p in paths)            # every layer spectrally normalised


def test_a_bfloat16_rrdbnet_upscales_within_bfloat16_precision_of_the_float32_one():
    """``model.dtype=bfloat16`` (``auto``'s choice on GPU and TPU): the same float32 weights, convolutions
    in bfloat16 (8 significant bits: half a level of 255 near white), a float32 photo within a level on
    average of the float32 network's, tiled as infer.py runs it."""
    import skimage.data

    from jaxgan import recipes
    from conftest import tiny_config

    ours = {dtype: recipes.build(tiny_config("esrgan", **{"model.dtype": dtype, "model.features": 16}))
            for dtype in ("float32", "bfloat16")}
    variables = {"G": ours["float32"].G.init(jax.random.PRNGKey(0), jnp.zeros((1, 8, 8, 3)), train=False)}
    image = np.asarray(Image.fromarray(skimage.data.chelsea()).resize((60, 70)), np.float32) / 127.5 - 1
    out = {dtype: recipe.upscale(variables, image, tile=48) for dtype, recipe in ours.items()}
    assert out["bfloat16"].dtype == np.float32 and out["bfloat16"].shape == (280, 240, 3)
    levels = np.abs(out["bfloat16"] - out["float32"]) * 127.5
    assert 0 < levels.mean() < 1 and np.percentile(levels, 99) < 6, (levels.mean(), np.percentile(levels, 99))
