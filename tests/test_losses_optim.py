"""Adversarial losses and weight clipping."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan import losses
from jaxgan.optim import clip_params, make_optimizer
from jaxgan.config import rmsprop


def test_losses_at_known_points():
    zero = jnp.zeros(4)
    assert np.isclose(losses.discriminator_loss("non_saturating", zero, zero), 2 * np.log(2))
    assert np.isclose(losses.generator_loss("non_saturating", zero), np.log(2))
    assert np.isclose(losses.generator_loss("minimax", zero), -np.log(2))
    assert np.isclose(losses.discriminator_loss("least_squares", jnp.ones(3), jnp.zeros(3)), 0.0)
    assert np.isclose(losses.discriminator_loss("wasserstein", jnp.full(3, 2.0), jnp.full(3, 0.5)), -1.5)
    assert np.isclose(losses.discriminator_loss("hinge", jnp.full(3, 2.0), jnp.full(3, -2.0)), 0.0)
    with pytest.raises(ValueError, match="unknown adversarial loss"):
        losses.generator_loss("vanilla", zero)


def test_minimax_and_non_saturating_gradients_differ_where_d_rejects():
    # Where D confidently rejects the fakes, minimax's gradient vanishes and non-saturating's does not.
    logit = jnp.array([-8.0])
    g_minimax = jax.grad(lambda x: losses.generator_loss("minimax", x))(logit)
    g_ns = jax.grad(lambda x: losses.generator_loss("non_saturating", x))(logit)
    assert abs(float(g_minimax[0])) < 1e-3 < abs(float(g_ns[0]))


def test_gradient_penalty_zero_for_unit_slope_critic():
    real, fake = jnp.ones((4, 2, 2, 1)), jnp.zeros((4, 2, 2, 1))
    critic = lambda x: jnp.sum(x, axis=(1, 2, 3)) / 2.0      # gradient norm exactly 1
    assert float(losses.gradient_penalty(critic, real, fake, jax.random.PRNGKey(0))) < 1e-6


def test_r1_penalty_is_the_squared_gradient_norm_on_real_data():
    w = jnp.arange(8.0).reshape(2, 2, 2) / 4                  # D(x) = <w, x> + <x, x>: grad = w + 2x
    critic = lambda x: jnp.sum(x * w, axis=(1, 2, 3)) + jnp.sum(x * x, axis=(1, 2, 3))
    real = jnp.stack([jnp.zeros((2, 2, 2)), jnp.ones((2, 2, 2))])
    expected = (np.sum(np.asarray(w) ** 2) + np.sum((np.asarray(w) + 2) ** 2)) / 2
    np.testing.assert_allclose(float(losses.r1_penalty(critic, real)), expected, rtol=1e-6)


@pytest.mark.parametrize("limit", [0.01, 0.05])
def test_clip_params_bound_is_exact(limit):
    key = jax.random.PRNGKey(0)
    params = {"w": jax.random.normal(key, (4096,)) * 3, "scale": jnp.ones((256,)), "b": jnp.zeros((64,))}
    opt = optax.chain(optax.rmsprop(0.5), clip_params(limit))
    state = opt.init(params)
    for i in range(5):
        grads = jax.tree.map(lambda p: jax.random.normal(jax.random.fold_in(key, i), p.shape), params)
        updates, state = opt.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        for leaf in jax.tree.leaves(params):
            assert jnp.max(jnp.abs(leaf)) <= jnp.float32(limit)
    # Inside the box the optimiser step is unchanged.
    inner = {"w": jnp.full((3,), 0.001)}
    upd, _ = clip_params(limit).update({"w": jnp.full((3,), 0.002)}, None, inner)
    np.testing.assert_allclose(upd["w"], 0.002, rtol=1e-5)


def test_make_optimizer_adds_clipping_from_config():
    opt = make_optimizer(rmsprop(1.0, weight_clip=0.01), num_steps=10)
    params = {"w": jnp.zeros(3)}
    updates, _ = opt.update({"w": jnp.array([-5.0, 5.0, 0.0])}, opt.init(params), params)
    assert jnp.max(jnp.abs(optax.apply_updates(params, updates)["w"])) <= jnp.float32(0.01)


def test_the_relativistic_average_losses_are_esrgans_with_basicsrs_gradients():
    import jax
    import jax.numpy as jnp

    from jaxgan import losses

    real, fake = jnp.array([1.5, -0.5, 2.0]), jnp.array([-1.0, 0.5, 0.0])
    bce = lambda x, target: np.mean(np.log1p(np.exp(-x)) if target else np.log1p(np.exp(x)))   # noqa: E731
    r, f = np.asarray(real), np.asarray(fake)
    d = 0.5 * (bce(r - f.mean(), 1) + bce(f - r.mean(), 0))
    g = 0.5 * (bce(r - f.mean(), 0) + bce(f - r.mean(), 1))
    np.testing.assert_allclose(losses.discriminator_loss("relativistic_average", real, fake), d, rtol=1e-6)
    np.testing.assert_allclose(losses.generator_loss("relativistic_average", fake, real), g, rtol=1e-6)
    # D: each term's mean of the other batch is a constant (BasicSR's detached passes)
    grad_real = jax.grad(lambda x: losses.discriminator_loss("relativistic_average", x, fake))(real)
    np.testing.assert_allclose(grad_real, -0.5 / 3 / (1 + np.exp(r - f.mean())), rtol=1e-5)
    # G: the gradient reaches the fakes through both terms
    grad_fake = jax.grad(lambda x: losses.generator_loss("relativistic_average", x, real))(fake)
    expected = -0.5 * (np.mean(1 / (1 + np.exp(-(r - f.mean())))) / 3 + 1 / 3 / (1 + np.exp(f - r.mean())))
    np.testing.assert_allclose(grad_fake, expected, rtol=1e-5)
