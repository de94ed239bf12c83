"""InfoGAN's categorical code (`gan.info_categories`): carried by plain normal noise, read by D's second
head, learnt by both networks; sharded == single-device; bad settings are one error."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import models
from jaxgan.errors import ConfigError


def test_the_code_is_uniform_over_the_categories_and_reaches_g_only_as_a_one_hot():
    z = jax.random.normal(jax.random.PRNGKey(0), (60_000, 12))
    counts = np.bincount(np.asarray(models.dcgan.categorical_code(z, 6)), minlength=6)
    np.testing.assert_allclose(counts / len(z), 1 / 6, atol=0.01)

    G = models.DCGANGenerator(16, 1, features=8, categories=4)
    base = np.array(jax.random.normal(jax.random.PRNGKey(1), (1, 12)))
    base[0, :4] = [2.0, 0.0, -1.0, 0.5]                 # code 0
    scaled = base.copy()
    scaled[0, :4] = [0.3, -2.0, 0.1, 0.2]               # the same code from other values
    other = base.copy()
    other[0, :4] = [0.0, 2.0, -1.0, 0.5]                # code 1
    variables = G.init(jax.random.PRNGKey(2), jnp.asarray(base), train=False)
    same, changed, reference = (np.asarray(G.apply(variables, jnp.asarray(v), train=False))
                                for v in (scaled, other, base))
    np.testing.assert_array_equal(same, reference)
    assert np.abs(changed - reference).max() > 0.1 * np.abs(reference).max() > 0


def test_an_infogan_learns_to_read_its_code_back_and_shards_like_one_device(tiny, tmp_path):
    from conftest import assert_one_and_eight_devices_agree, run_steps
    from jaxgan.train import Trainer

    info = {"gan.info_categories": 4, "model.latent_components": 0}      # the code replaces the mixture prior
    assert_one_and_eight_devices_agree(lambda: tiny("dcgan", num_steps=2, **info), tmp_path / "sharded", 2)
    fast = {**info, "optim.g.lr": 2e-3, "optim.d.lr": 2e-3}            # the tiny nets learn it in tens of steps
    trainer = Trainer(tiny("dcgan", num_steps=40, **fast), tmp_path / "dcgan")
    metrics = run_steps(trainer, 40)
    trainer.close()
    assert all(np.isfinite(list(m.values())).all() for m in metrics)
    assert metrics[0]["info_loss"] == pytest.approx(np.log(4), abs=0.1)     # chance at the start
    late = metrics[-10:]
    assert np.mean([m["info_loss"] for m in late]) < 0.5 and np.mean([m["info_accuracy"] for m in late]) > 0.8
    assert np.mean([m["g_info_loss"] for m in late]) < 0.5                  # G draws the code legibly too


def test_a_critic_loop_recipe_trains_with_a_code_too(tiny, tmp_path):
    from conftest import run_steps
    from jaxgan.train import Trainer

    trainer = Trainer(tiny("wgan_gp", num_steps=1, **{"gan.info_categories": 4}), tmp_path / "wgan_gp")
    (metrics,) = run_steps(trainer, 1)
    trainer.close()
    assert metrics["info_loss"] == pytest.approx(np.log(4), abs=0.1) and np.isfinite(metrics["gradient_penalty"])


def test_bad_info_settings_are_one_config_error(tiny):
    from jaxgan import recipes

    with pytest.raises(ConfigError, match="gan.info_categories needs model.arch=dcgan"):
        recipes.build(tiny("gan", **{"gan.info_categories": 4}))
    with pytest.raises(ConfigError, match="exceeds model.latent_dim"):
        recipes.build(tiny("dcgan", **{"gan.info_categories": 32, "model.latent_components": 0}))
    with pytest.raises(ConfigError, match="both give the noise a structure"):
        recipes.build(tiny("dcgan", **{"gan.info_categories": 4}))
