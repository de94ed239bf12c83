"""Adversarial and auxiliary losses, pure functions of logits / images. Shared by every recipe.

Adversarial losses are selected by name through `discriminator_loss` and `generator_loss`; both take
raw discriminator outputs (logits, or critic values for ``wasserstein``) and return a scalar mean.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from jax.nn import softplus

from jaxgan.errors import ConfigError

ADVERSARIAL = ("minimax", "non_saturating", "least_squares", "wasserstein", "hinge")
#: a loss whose generator term needs D's outputs on real images too (`generator_loss`'s ``real``)
RELATIVISTIC = "relativistic_average"


def _check(kind: str) -> None:
    if kind not in ADVERSARIAL + (RELATIVISTIC,):
        raise ConfigError(f"unknown adversarial loss {kind!r}; choose one of {', '.join(ADVERSARIAL)}")


def discriminator_loss(kind: str, real: jax.Array, fake: jax.Array) -> jax.Array:
    """The discriminator's (critic's) loss on real and fake outputs.

    minimax / non_saturating: binary cross-entropy (Goodfellow et al. 2014); least_squares: LSGAN, real
    -> 1, fake -> 0 (Mao et al. 2017); wasserstein: E[D(fake)] - E[D(real)] (Arjovsky et al. 2017);
    hinge: E[relu(1 - D(real))] + E[relu(1 + D(fake))] (Lim & Ye 2017); relativistic_average: RaGAN
    (Jolicoeur-Martineau 2019) as ESRGAN and BasicSR use it, the mean of the cross-entropies of
    D(real) - E[D(fake)] as real and D(fake) - E[D(real)] as fake.
    """
    _check(kind)
    if kind == RELATIVISTIC:                     # each term's mean is a constant, as in BasicSR's two passes
        fake_mean, real_mean = jax.lax.stop_gradient(jnp.mean(fake)), jax.lax.stop_gradient(jnp.mean(real))
        return 0.5 * (jnp.mean(softplus(fake_mean - real)) + jnp.mean(softplus(fake - real_mean)))
    if kind in ("minimax", "non_saturating"):
        return jnp.mean(softplus(-real)) + jnp.mean(softplus(fake))
    if kind == "least_squares":
        return jnp.mean((real - 1.0) ** 2) + jnp.mean(fake ** 2)
    if kind == "wasserstein":
        return jnp.mean(fake) - jnp.mean(real)
    return jnp.mean(jax.nn.relu(1.0 - real)) + jnp.mean(jax.nn.relu(1.0 + fake))


def generator_loss(kind: str, fake: jax.Array, real: jax.Array | None = None) -> jax.Array:
    """The generator's loss on the discriminator's outputs for its fakes.

    minimax: minimise log(1 - D(G(z))) (the original game; saturates early in training);
    non_saturating: minimise -log D(G(z)); least_squares: (D(G(z)) - 1)^2; wasserstein / hinge:
    -E[D(G(z))]; relativistic_average: D's loss with the roles swapped, on D's outputs for ``real`` too
    (constants; the gradient reaches G through both terms, as in BasicSR).
    """
    _check(kind)
    if kind == RELATIVISTIC:
        if real is None:
            raise ConfigError("the relativistic_average loss needs D's outputs on real images")
        return 0.5 * (jnp.mean(softplus(real - jnp.mean(fake))) + jnp.mean(softplus(jnp.mean(real) - fake)))
    if kind == "minimax":
        return -jnp.mean(softplus(fake))
    if kind == "non_saturating":
        return jnp.mean(softplus(-fake))
    if kind == "least_squares":
        return jnp.mean((fake - 1.0) ** 2)
    return -jnp.mean(fake)


def matching_aware_discriminator_loss(kind: str, real_match: jax.Array, real_mismatch: jax.Array,
                                      fake_match: jax.Array) -> jax.Array:
    """GAN-CLS's discriminator loss (Reed et al. 2016): (real image, matching text) is real with weight 1;
    (real image, mismatched text) and (fake image, matching text) are fake with weight 1/2 each."""
    return 0.5 * (discriminator_loss(kind, real_match, real_mismatch) + discriminator_loss(kind, real_match, fake_match))


def discriminator_output(kind: str, logits: jax.Array) -> jax.Array:
    """What to report as D(x): a probability for the cross-entropy losses, the raw output otherwise."""
    _check(kind)
    return jnp.mean(jax.nn.sigmoid(logits) if kind in ("minimax", "non_saturating", RELATIVISTIC) else logits)


def _squared_input_gradient_norms(critic: Callable[[jax.Array], jax.Array], x: jax.Array) -> jax.Array:
    """``||grad_x D(x)||_2^2`` for each example of the batch ``x``."""
    grads = jax.grad(lambda x: jnp.sum(critic(x)))(x)
    return jnp.sum(grads.reshape(grads.shape[0], -1) ** 2, axis=1)


def gradient_penalty(critic: Callable[[jax.Array], jax.Array], real: jax.Array, fake: jax.Array,
                     rng: jax.Array) -> jax.Array:
    """WGAN-GP's penalty E[(||grad D(x_hat)||_2 - 1)^2] on random interpolates (Gulrajani et al. 2017)."""
    alpha = jax.random.uniform(rng, (real.shape[0],) + (1,) * (real.ndim - 1), real.dtype)
    x_hat = alpha * real + (1.0 - alpha) * fake
    norms = jnp.sqrt(_squared_input_gradient_norms(critic, x_hat) + 1e-12)
    return jnp.mean((norms - 1.0) ** 2)


def r1_penalty(critic: Callable[[jax.Array], jax.Array], real: jax.Array) -> jax.Array:
    """R1 (Mescheder et al. 2018): E[||grad D(x)||_2^2] on the real batch, unscaled (the recipe weighs it by
    gamma / 2)."""
    return jnp.mean(_squared_input_gradient_norms(critic, real))


def l1(a: jax.Array, b: jax.Array) -> jax.Array:
    """Mean absolute error (pix2pix's L1 term, CycleGAN's cycle and identity terms)."""
    return jnp.mean(jnp.abs(a - b))


def domain_classification(logits: jax.Array, targets: jax.Array, multi_label: bool) -> jax.Array:
    """StarGAN's domain-classification loss on ``logits`` [B, D] for ``targets`` [B, D] (multi-hot or
    one-hot). ``multi_label`` (attributes): binary cross-entropy summed over the D attributes, averaged
    over the batch (the reference code's ``size_average=False`` / batch); else (one domain per image):
    softmax cross-entropy, averaged over the batch."""
    logits = logits.astype(jnp.float32)
    if multi_label:
        per_attribute = softplus(logits) - logits * targets        # BCE with logits, stable form
        return jnp.mean(jnp.sum(per_attribute, axis=-1))
    return jnp.mean(-jnp.sum(targets * jax.nn.log_softmax(logits), axis=-1))
