"""The adversarial updates every recipe shares: a network applied with its batch statistics threaded,
G's forward pass kept for its update, the discriminator update, the generator update through D, the
n_critic critic loop. Pure functions of `NetState`s; the recipes only say which inputs and losses.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxgan import losses
from jaxgan.state import Metrics, NetState


def apply_grads(net: NetState, grads: Any, optimizer: optax.GradientTransformation,
                batch_stats: Any = None) -> NetState:
    """One optimiser update (the optimiser sees params, as weight clipping needs)."""
    updates, opt_state = optimizer.update(grads, net.opt_state, net.params)
    return NetState(params=optax.apply_updates(net.params, updates),
                    batch_stats=net.batch_stats if batch_stats is None else batch_stats, opt_state=opt_state)


def apply_train(module: nn.Module, net: NetState, params: Any, *inputs: Any, batch_stats: Any = None,
                rngs: dict[str, jax.Array] | None = None) -> tuple[jax.Array, Any]:
    """``module`` in training mode with ``params``: ``(output, updated batch statistics)``."""
    stats = net.batch_stats if batch_stats is None else batch_stats
    out, updates = module.apply({"params": params, "batch_stats": stats}, *inputs, rngs=rngs,
                                mutable=["batch_stats"])
    return out, updates.get("batch_stats", stats)


class GeneratorPass(NamedTuple):
    """G's forward pass, kept so its update back-propagates through the very same pass."""

    fake: jax.Array
    vjp: Callable[[jax.Array], tuple[Any]]
    batch_stats: Any


def generator_forward(G: nn.Module, g: NetState, *inputs: Any, rngs: dict[str, jax.Array] | None = None
                      ) -> GeneratorPass:
    """One G forward pass in training mode. The discriminator update sees its ``fake`` (no gradient to
    G), and `generator_update` differentiates through it: one G forward pass per iteration, as the
    PyTorch references do."""
    fake, vjp, stats = jax.vjp(lambda p: apply_train(G, g, p, *inputs, rngs=rngs), g.params, has_aux=True)
    return GeneratorPass(fake, vjp, stats)


def critic_output(out: Any) -> jax.Array:
    """The real/fake output of a discriminator: its first output where it has two heads (StarGAN's
    ``(patches, domains)``), else its only one."""
    return out[0] if isinstance(out, tuple) else out


def discriminator_update(D: nn.Module, d: NetState, optimizer: optax.GradientTransformation, real: Any,
                         fake: Any, loss: str, scale: float = 1.0, gp_weight: float = 0.0, r1_gamma: float = 0.0,
                         rng: jax.Array | None = None,
                         real_aux_loss: Callable[[jax.Array], tuple[jax.Array, Metrics]] | None = None,
                         fake_aux_loss: Callable[[jax.Array], tuple[jax.Array, Metrics]] | None = None
                         ) -> tuple[NetState, Metrics]:
    """One update of D on ``real`` vs ``fake`` inputs: D runs on the real then the fake batch with its
    batch statistics threaded through both (PyTorch's two forward calls); loss = ``scale`` x the
    adversarial loss, + ``gp_weight`` x WGAN-GP's gradient penalty (interpolates drawn with ``rng``),
    + ``r1_gamma`` / 2 x R1's penalty on the real batch,
    + ``real_aux_loss(D's second head on the real batch)`` for a two-headed D (StarGAN's domain
    classification; it returns ``(loss, metrics)``), + ``fake_aux_loss(its second head on the fake
    batch)`` (InfoGAN's code reconstruction). Metrics: ``d_loss``, ``d_real``, ``d_fake`` (and the
    unweighted ``gradient_penalty`` and ``r1_penalty``)."""
    fake = jax.lax.stop_gradient(fake)

    def loss_fn(params):
        real_out, stats = apply_train(D, d, params, real)
        fake_out, stats = apply_train(D, d, params, fake, batch_stats=stats)
        real_critic, fake_critic = critic_output(real_out), critic_output(fake_out)
        total = scale * losses.discriminator_loss(loss, real_critic, fake_critic)
        metrics = {"d_real": losses.discriminator_output(loss, real_critic),
                   "d_fake": losses.discriminator_output(loss, fake_critic)}
        if gp_weight:
            gp = losses.gradient_penalty(lambda x: critic_output(apply_train(D, d, params, x)[0]), real, fake, rng)
            metrics["gradient_penalty"] = gp
            total = total + gp_weight * gp
        if r1_gamma:
            r1 = losses.r1_penalty(lambda x: critic_output(apply_train(D, d, params, x)[0]), real)
            metrics["r1_penalty"] = r1
            total = total + 0.5 * r1_gamma * r1
        for aux_loss, out in ((real_aux_loss, real_out), (fake_aux_loss, fake_out)):
            if aux_loss is not None:
                aux, aux_metrics = aux_loss(out[1])
                metrics.update(aux_metrics)
                total = total + aux
        metrics["d_loss"] = total
        return total, (metrics, stats)

    grads, (metrics, stats) = jax.grad(loss_fn, has_aux=True)(d.params)
    return apply_grads(d, grads, optimizer, stats), metrics


def adversarial_loss(D: nn.Module, d: NetState, fake: jax.Array, loss: str, real: jax.Array | None = None
                     ) -> jax.Array:
    """G's adversarial loss on D's (training-mode) output for ``fake`` (and, for a relativistic loss, for
    ``real``, as a constant); D's statistics are not updated."""
    real_out = None if real is None else jax.lax.stop_gradient(apply_train(D, d, d.params, real)[0])
    return losses.generator_loss(loss, apply_train(D, d, d.params, fake)[0], real_out)


def generator_update(forward: GeneratorPass, g: NetState, optimizer: optax.GradientTransformation,
                     loss_fn: Callable[[jax.Array], tuple[jax.Array, Metrics]]) -> tuple[NetState, Metrics]:
    """G's update on ``loss_fn(fake) -> (loss, metrics)``, back-propagated through ``forward``'s pass.
    Adds ``g_loss`` to the metrics."""
    (loss, metrics), d_fake = jax.value_and_grad(loss_fn, has_aux=True)(forward.fake)
    (grads,) = forward.vjp(d_fake)
    return apply_grads(g, grads, optimizer, forward.batch_stats), dict(metrics, g_loss=loss)


def critic_loop(update: Callable[[NetState, Any], tuple[NetState, Metrics]], d: NetState, per_update: Any
                ) -> tuple[NetState, Metrics]:
    """``n_critic`` critic updates as one `lax.scan` over the leading axis of ``per_update`` (each
    update's real batch and key); metrics are averaged over the updates. The scan is unrolled: XLA then
    schedules and fuses across the updates, and its cost analysis counts every update (it counts a loop
    body once), so the benchmark's FLOPs and MFU are right."""
    d, metrics = jax.lax.scan(update, d, per_update, unroll=True)
    return d, jax.tree.map(jnp.mean, metrics)
