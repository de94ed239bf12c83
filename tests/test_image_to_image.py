"""pix2pix and CycleGAN: networks, loss wiring, the image pool, paired/unpaired data, resume."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from conftest import assert_trees_equal, eval_arrays, run_steps, traced, train_batches
from jaxgan import image_pool, models
from jaxgan.recipes.cyclegan import CycleGAN
from jaxgan.train import Trainer as _Trainer


def Trainer(config, workdir):
    """Batches of 1-2 images run on one device (the mesh must divide the batch)."""
    return _Trainer(config, workdir, devices=jax.devices()[:1])


def test_generator_and_patchgan_shapes():
    x, wrong = jax.ShapeDtypeStruct((2, 64, 64, 3), jnp.float32), jax.ShapeDtypeStruct((1, 48, 48, 3), jnp.float32)
    unet = models.UNetGenerator(3, num_downs=6, features=8)
    variables, out = traced(unet, x, train=False)
    assert out.shape == (2, 64, 64, 3)
    with pytest.raises(ValueError, match="divisible by 64"):
        jax.eval_shape(lambda v, x: unet.apply(v, x, train=False), variables, wrong)
    assert traced(models.ResNetGenerator(3, num_blocks=2, features=8), x)[1].shape == (2, 64, 64, 3)
    assert traced(models.PatchGAN(8, n_layers=3), x, train=False)[1].shape == (2, 6, 6)


def test_unet_input_skip_starts_from_its_input():
    """With the last layer's output at 0, the input-skip U-Net returns its input (clipped to +-0.999)."""
    x = jax.random.uniform(jax.random.PRNGKey(0), (2, 64, 64, 3), minval=-1.0, maxval=1.0)
    unet = models.UNetGenerator(3, num_downs=6, features=8, input_skip=True)
    variables = unet.init({"params": jax.random.PRNGKey(1), "dropout": jax.random.PRNGKey(2)}, x, train=False)
    last = f"ConvTranspose_{unet.num_downs - 1}"
    params = dict(variables["params"], **{last: jax.tree.map(jnp.zeros_like, variables["params"][last])})
    out = unet.apply(dict(variables, params=params), x, train=False)
    np.testing.assert_allclose(out, jnp.clip(x, -0.999, 0.999), atol=1e-5)
    assert not np.allclose(unet.apply(variables, x, train=False), out, atol=1e-3)   # a change learned on top


def test_a_luminance_keeping_unet_changes_only_the_colour_of_a_grey_input_and_at_quarter_resolution():
    grey = jax.random.uniform(jax.random.PRNGKey(0), (2, 64, 64, 1), minval=-0.6, maxval=0.6)
    x = jnp.repeat(grey, 3, axis=-1)
    unet = models.UNetGenerator(3, num_downs=6, features=8, input_skip=True, keep_luminance=True)
    variables = unet.init({"params": jax.random.PRNGKey(1), "dropout": jax.random.PRNGKey(2)}, x, train=False)
    last = f"ConvTranspose_{unet.num_downs - 1}"                            # a trained-size change
    params = dict(variables["params"], **{last: jax.tree.map(lambda p: 300 * p, variables["params"][last])})
    out = unet.apply(dict(variables, params=params), x, train=False)
    unclipped = np.all(np.abs(np.asarray(out)) < 1, axis=-1)
    luma = np.asarray(out @ jnp.array([0.299, 0.587, 0.114]))
    assert unclipped.mean() > 0.99
    np.testing.assert_allclose(luma[unclipped], np.asarray(grey[..., 0])[unclipped], atol=1e-5)
    colour = out - x
    assert float(jnp.abs(colour).mean()) > 0.02                          # the colour did change, smoothly
    raw = models.UNetGenerator(3, num_downs=6, features=8, input_skip=True).apply(dict(variables, params=params), x,
                                                                                  train=False)
    raw_colour = raw - raw @ jnp.array([0.299, 0.587, 0.114])[:, None]
    roughness = [float(jnp.abs(jnp.diff(c, axis=2)).mean()) for c in (colour, raw_colour)]
    assert roughness[0] < 0.5 * roughness[1], roughness
    from jaxgan.errors import ConfigError
    from ml_collections import ConfigDict

    from jaxgan.models.image_to_image import image_generator
    with pytest.raises(ConfigError, match="keep_luminance needs model.arch=unet"):
        image_generator(ConfigDict(dict(num_blocks=2, g_features=8, norm="instance", dropout=0.0, input_skip=False,
                                        keep_luminance=True)), 3, "resnet")


@pytest.mark.parametrize("n_layers,expected", [(1, 16), (2, 34), (3, 70)])
def test_patchgan_receptive_field(n_layers, expected):
    assert models.receptive_field(n_layers) == expected
    patch = models.PatchGAN(4, n_layers=n_layers, norm="none")
    x = jnp.zeros((1, 160, 160, 3))
    variables = jax.jit(patch.init)(jax.random.PRNGKey(0), x)             # jitted: one compile, not one per op
    variables = jax.tree.map(lambda p: jnp.abs(p) + 0.01, variables)    # no accidental zero paths
    out_shape = jax.eval_shape(patch.apply, variables, x).shape
    center = (out_shape[1] // 2, out_shape[2] // 2)
    grad = jax.jit(jax.grad(lambda x: patch.apply(variables, x)[0, center[0], center[1]]))(
        jax.random.normal(jax.random.PRNGKey(1), x.shape))
    rows = np.nonzero(np.abs(np.asarray(grad[0])).sum(axis=(1, 2)))[0]
    assert rows.max() - rows.min() + 1 == expected


def test_image_pool_semantics():
    pool = image_pool.empty_pool(4, (2, 2, 1))
    rng = np.random.default_rng(0)
    first = np.arange(3, dtype=np.float32)[:, None, None, None] * np.ones((3, 2, 2, 1), np.float32)
    pool, out = image_pool.query(pool, first, rng)
    np.testing.assert_array_equal(out, first)                            # filling: fakes pass through
    assert int(pool["count"]) == 3
    swapped = 0
    for i in range(200):
        new = np.full((2, 2, 2, 1), 100.0 + i, np.float32)
        before = pool["images"].copy()
        pool, out = image_pool.query(pool, new, rng)
        assert int(pool["count"]) == 4
        history = out[:, 0, 0, 0] != new[:, 0, 0, 0]
        swapped += int(np.sum(history))
        assert all(v in before[:, 0, 0, 0] for v in out[history, 0, 0, 0])   # older fakes, from the pool
    assert 0.4 < swapped / 400 < 0.6                                      # half come from the history
    assert image_pool.query(image_pool.empty_pool(0, (2, 2, 1)), first, rng)[1] is first


class Identity(nn.Module):
    sign: float = 1.0

    @nn.compact
    def __call__(self, x, train=True):
        return self.sign * x + 0.0 * self.param("unused", nn.initializers.zeros, ())


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_cycle_and_identity_terms_are_wired_as_specified(sign, tiny_i2i):
    recipe = CycleGAN(tiny_i2i("cyclegan"))
    recipe.G = Identity(sign)
    batch = {"A": jax.random.uniform(jax.random.PRNGKey(0), (1, 32, 32, 3), minval=-1),
             "B": jax.random.uniform(jax.random.PRNGKey(1), (1, 32, 32, 3), minval=-1)}
    state = recipe.init(jax.random.PRNGKey(0), batch)
    _, _, metrics = recipe.generator_step(state, batch, {})
    # G(G(x)) == x for x -> x and x -> -x: the cycle loss vanishes.
    assert float(metrics["cycle"]) == pytest.approx(0.0, abs=1e-7)
    # Identity: |G_AB(b) - b| + |G_BA(a) - a| is 0 for x -> x and 2(|a| + |b|) for x -> -x.
    expected = 0.0 if sign > 0 else float(2 * (jnp.abs(batch["A"]).mean() + jnp.abs(batch["B"]).mean()))
    assert float(metrics["identity"]) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", ["pix2pix", "cyclegan"])
def test_translation_recipe_trains_and_evaluates(name, tiny_i2i, tmp_path):
    config = tiny_i2i(name, num_steps=5, evaluate=True)
    trainer = Trainer(config, tmp_path)
    result = trainer.fit()
    values = result["metrics"]
    assert all(np.isfinite(v) for v in values.values())
    assert result["eval"], "no evaluation figures"
    keys = {"held_out_l1", "held_out_psnr", "held_out_ssim", "input_psnr", "input_ssim", "held_out_worst_psnr_gain",
            "held_out_colourfulness", "target_colourfulness"} if name == "pix2pix" else {"cycle_l1_A", "cycle_l1_B"}
    assert keys <= set(result["eval"])
    if name == "pix2pix":              # the worst photo gains no more than the average one
        e = result["eval"]
        assert e["held_out_worst_psnr_gain"] <= e["held_out_psnr"] - e["input_psnr"] + 1e-9
    assert list((tmp_path / "samples").glob("*.png"))
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    d_losses = [float(l.split('"train/d_loss": ')[1].split(",")[0]) for l in lines if "train/d_loss" in l]
    assert len(set(d_losses)) > 1, "discriminator loss did not move"
    assert np.isfinite(list(run_steps(trainer, 1)[0].values())).all()   # a further step: no implicit reads back


def test_cyclegan_resumes_exactly_params_and_pools(tiny_i2i, tmp_path):
    # A pool of 2 is full after 2 steps: steps 3-4 draw from it at random. Constant learning rates: the
    # first leg is a 2-step run, whose finished decay a 4-step continuation would (rightly) not undo.
    pool = {"gan.pool_size": 2, "optim.g.schedule": "constant", "optim.d.schedule": "constant"}
    straight = Trainer(tiny_i2i("cyclegan", num_steps=4, **pool), tmp_path / "straight")
    run_steps(straight, 4)
    Trainer(tiny_i2i("cyclegan", num_steps=2, checkpoint_every=2, **pool), tmp_path / "resumed").fit()
    resumed = Trainer(tiny_i2i("cyclegan", num_steps=4, **pool), tmp_path / "resumed")
    assert resumed.start_step == 2 and int(resumed.host["pool_A"]["count"]) == 2     # the pools came back
    run_steps(resumed, 2)
    assert_trees_equal((straight.host, straight.state), (resumed.host, resumed.state))
    for trainer in (straight, resumed):
        trainer.close()


def _write_pairs(root, side_by_side: bool):
    """Three 40x40 pairs whose two sides are the same image; returns the images."""
    rng = np.random.default_rng(0)
    images = []
    for i in range(3):
        a = rng.integers(0, 255, (40, 40, 3), np.uint8)
        if side_by_side:
            (root / "train").mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.concatenate([a, a], axis=1)).save(root / "train" / f"{i}.png")
        else:
            for side in "AB":
                (root / side / "train").mkdir(parents=True, exist_ok=True)
                Image.fromarray(a).save(root / side / "train" / f"{i}.png")
        images.append(a)
    return images


@pytest.mark.parametrize("layout", ["side_by_side", "two_folders"])
@pytest.mark.parametrize("resize", ["none", "crop"])
def test_paired_folders_get_the_same_jitter_on_both_sides(layout, resize, tiny_i2i, tmp_path):
    originals = _write_pairs(tmp_path, layout == "side_by_side")
    config = tiny_i2i("pix2pix", **{"data.source": "folder", "data.layout": layout, "data.path": str(tmp_path),
                                    "data.resize": resize})
    batch = next(train_batches(config))
    assert batch["A"].shape == batch["B"].shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(batch["A"], batch["B"])           # identical halves stay identical
    if resize == "none":                # crops at the images' own scale: exact windows of an original
        crop = np.round((batch["A"][0] + 1) * 127.5).astype(np.uint8)
        windows = [w[r:r + 32, c:c + 32] for a in originals for w in (a, a[:, ::-1]) for r in range(9) for c in range(9)]
        assert any(np.array_equal(crop, w) for w in windows)


def test_unpaired_folders_and_embedded_sets(tiny_i2i, tmp_path):
    rng = np.random.default_rng(0)
    for split, side, n in (("train", "A", 3), ("train", "B", 5), ("test", "A", 2), ("test", "B", 2)):
        (tmp_path / f"{split}{side}").mkdir()
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (30 + i, 40, 3), np.uint8)).save(tmp_path / f"{split}{side}" / f"{i}.jpg")
    config = tiny_i2i("cyclegan", **{"data.source": "folder", "data.layout": "unpaired", "data.path": str(tmp_path)})
    batch = next(train_batches(config))
    assert batch["A"].shape == batch["B"].shape == (1, 32, 32, 3)
    held = eval_arrays(config, "test")
    assert held["A"].shape == (2, 32, 32, 3)
    embedded = eval_arrays(tiny_i2i("cyclegan"), "test")
    assert embedded["A"].shape[1:] == embedded["B"].shape[1:] == (32, 32, 3)
    pairs = eval_arrays(tiny_i2i("pix2pix"), "test")                    # whole held-out photos, own sizes
    assert [a.shape for a in pairs["A"]] == [b.shape for b in pairs["B"]] and len(pairs["A"]) == 4
    assert len({a.shape for a in pairs["A"]}) == 3        # coffee, the motorcycle; scikit-learn's china and flower
    np.testing.assert_allclose(pairs["A"][0][..., 0], pairs["A"][0][..., 1])   # A is grayscale
