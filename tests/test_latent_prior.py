"""The Gaussian-mixture latent prior (`model.latent_components`): uniform components around fixed,
version-stable centres with unit overall variance, wired into both noise generators, bad settings one error."""
import math

import jax
import numpy as np
import pytest

from jaxgan import models
from jaxgan.errors import ConfigError
from jaxgan.models.latent_prior import mixture_centres, mixture_prior


def test_noise_lands_around_uniformly_used_fixed_centres_with_unit_variance():
    z = jax.random.normal(jax.random.PRNGKey(0), (100_000, 16))
    out = np.asarray(mixture_prior(z, 8, 0.5))
    centres = mixture_centres(8, 16, 0.5)
    # centres are NumPy's frozen legacy stream scaled to variance 1 - std**2 (pinned: a change would
    # silently change every trained generator's meaning)
    assert centres[0, 0] == pytest.approx(1.764052345967664 * math.sqrt(0.75), rel=1e-6)
    offsets = out - 0.5 * np.asarray(z)
    nearest = np.abs(offsets[:, None, :] - centres[None]).sum(-1).argmin(-1)
    np.testing.assert_allclose(offsets, centres[nearest], atol=1e-5)        # exactly on a centre
    np.testing.assert_allclose(np.bincount(nearest, minlength=8) / len(z), 1 / 8, atol=0.01)
    assert out.var(0).mean() == pytest.approx(1.0, abs=0.25)              # the scale the networks expect
    np.testing.assert_array_equal(mixture_prior(z, 0, 0.5), z)              # 0 components: the plain prior


@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_both_generators_run_their_noise_through_the_mixture(arch):
    z = jax.random.normal(jax.random.PRNGKey(1), (4, 16))
    if arch == "dcgan":
        make = lambda k: models.DCGANGenerator(16, 1, features=8, latent_components=k)
    else:
        make = lambda k: models.MLPGenerator(16, 1, (32,), latent_components=k)
    mixed, plain = make(10), make(0)
    variables = plain.init(jax.random.PRNGKey(2), z, train=False)
    out = mixed.apply(variables, z, train=False)
    np.testing.assert_allclose(out, plain.apply(variables, mixture_prior(z, 10, 0.5), train=False), atol=1e-6)
    assert np.abs(np.asarray(out) - np.asarray(plain.apply(variables, z, train=False))).max() > 1e-3


@pytest.mark.parametrize("overrides, message", [
    ({"model.latent_components": -1}, "latent_components must be >= 0"),
    ({"model.latent_component_std": 0.0}, "latent_component_std in \\(0, 1\\]"),
    ({"model.latent_component_std": 1.5}, "must be in \\[0.0, 1.0\\]"),
])
def test_bad_prior_settings_are_one_config_error(tiny, overrides, message):
    from jaxgan import config as config_lib
    from jaxgan import recipes

    with pytest.raises(ConfigError, match=message):
        config = tiny("dcgan", **overrides)
        config_lib.validate(config)
        recipes.build(config)
