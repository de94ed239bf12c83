"""DiffAugment: each image shifted or cut as documented, gradients pass through, bad names are one error."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import diff_augment
from jaxgan.errors import ConfigError


def _images(n=16, size=16):
    return jax.random.uniform(jax.random.PRNGKey(0), (n, size, size, 1), minval=0.1, maxval=1.0)


def _shifted(image, dy, dx):
    h, w = image.shape[:2]
    rows = np.clip(np.arange(h) - dy, 0, h - 1)
    cols = np.clip(np.arange(w) - dx, 0, w - 1)
    return image[rows][:, cols]


def test_translation_shifts_each_image_by_its_own_offset_within_an_eighth_repeating_the_edge():
    x = np.asarray(_images())
    out = np.asarray(diff_augment.translate(jnp.asarray(x), jax.random.PRNGKey(1)))
    assert out.shape == x.shape
    offsets = []
    for image, moved in zip(x, out):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if np.array_equal(_shifted(image, dy, dx), moved)]
        assert len(found) == 1, "not a shift of at most 2 px (1/8 of 16)"
        offsets.append(found[0])
    assert len(set(offsets)) > 3, f"images share one offset: {offsets}"


def test_cutout_zeroes_one_half_side_square_per_image_and_keeps_the_rest():
    x = np.asarray(_images())
    out = np.asarray(diff_augment.cutout(jnp.asarray(x), jax.random.PRNGKey(2)))
    for image, cut in zip(x, out):
        zero = cut[..., 0] == 0
        rows, cols = np.nonzero(zero)
        assert 4 * 4 <= zero.sum() <= 8 * 8
        box = zero[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        assert box.all(), "the zeroed pixels are not one rectangle"
        np.testing.assert_array_equal(cut[~zero], image[~zero])


def test_the_policy_is_differentiable_and_draws_differ_per_key():
    x = _images(4)
    policy = diff_augment.parse("translation, cutout")
    grad = jax.grad(lambda v: jnp.sum(diff_augment.augment(v, jax.random.PRNGKey(3), policy)))(x)
    assert 0 < float(jnp.sum(grad)) < x.size and bool(jnp.all(grad >= 0))
    a = diff_augment.augment(x, jax.random.PRNGKey(3), policy)
    b = diff_augment.augment(x, jax.random.PRNGKey(4), policy)
    assert not np.array_equal(np.asarray(a), np.asarray(b))
    assert diff_augment.augment(x, jax.random.PRNGKey(3), ()) is x


def test_an_unknown_augmentation_is_one_config_error(tiny):
    from jaxgan.config import validate
    with pytest.raises(ConfigError, match="unknown augmentation 'colour'; choose from translation, cutout"):
        validate(tiny("dcgan", **{"gan.augment": "translation,colour"}))


def test_an_augmented_dcgan_trains_the_same_on_eight_devices_as_on_one_and_differs_from_plain(tiny, tmp_path):
    from conftest import assert_one_and_eight_devices_agree, run_steps
    from jaxgan.train import Trainer

    augmented = {"gan.augment": "translation,cutout"}
    assert_one_and_eight_devices_agree(lambda: tiny("dcgan", num_steps=2, **augmented), tmp_path / "a", 2)
    losses = []
    for name, overrides in (("plain", {}), ("augmented", augmented)):
        trainer = Trainer(tiny("dcgan", num_steps=2, **overrides), tmp_path / name)
        losses.append(run_steps(trainer, 1)[0]["d_loss"])
        trainer.close()
    assert np.isfinite(losses).all() and losses[0] != losses[1]
