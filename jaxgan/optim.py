"""Optimisers from config, and WGAN weight clipping as an optax `GradientTransformation`."""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxgan.errors import ConfigError

OPTIMIZERS = ("adam", "rmsprop", "sgd")
SCHEDULES = ("constant", "linear_decay")


class ClipParamsState(NamedTuple):
    """Weight clipping keeps no state."""


def clip_params(limit: float) -> optax.GradientTransformation:
    """Rewrites updates so that ``optax.apply_updates(params, updates)`` lies in ``[-limit, limit]``.

    Put it last in a chain. The clipped target ``t = clip(p + u)`` is reached with ``u' = t - p``; where
    float rounding of ``p + u'`` would overshoot the bound, ``u'`` is stepped one ulp inwards, which
    provably lands inside (rounding is monotone and the bound is representable).
    """

    def init_fn(params):
        del params
        return ClipParamsState()

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("clip_params needs params: call update(grads, state, params)")

        def one(u, p):
            target = jnp.clip(p + u, -limit, limit)
            u = target - p
            landed = p + u
            u = jnp.where(landed > limit, jnp.nextafter(u, -jnp.inf), u)
            return jnp.where(landed < -limit, jnp.nextafter(u, jnp.inf), u)

        return jax.tree.map(one, updates, params), state

    return optax.GradientTransformation(init_fn, update_fn)


def learning_rate(cfg: ml_collections.ConfigDict, num_steps: int) -> optax.Schedule | float:
    """``constant``, or ``linear_decay``: constant for ``decay_start`` of the run, then linearly to 0."""
    schedule = cfg.get("schedule", "constant")
    if schedule == "constant":
        return cfg.lr
    if schedule == "linear_decay":
        start = int(cfg.get("decay_start", 0.5) * num_steps)
        return optax.join_schedules(
            [optax.constant_schedule(cfg.lr), optax.linear_schedule(cfg.lr, 0.0, max(num_steps - start, 1))],
            [start])
    raise ConfigError(f"unknown schedule {schedule!r}; choose constant or linear_decay")


def make_optimizer(cfg: ml_collections.ConfigDict, num_steps: int,
                   lr: optax.Schedule | float | None = None) -> optax.GradientTransformation:
    """An optimiser from ``cfg.name`` (adam | rmsprop | sgd), ``cfg.lr``, betas, and ``cfg.weight_clip``
    (``lr``, when given, replaces ``cfg``'s learning rate and schedule)."""
    lr = learning_rate(cfg, num_steps) if lr is None else lr
    if cfg.name == "adam":
        opt = optax.adam(lr, b1=cfg.get("b1", 0.9), b2=cfg.get("b2", 0.999), eps=1e-8)
    elif cfg.name == "rmsprop":  # PyTorch's RMSprop: decay 0.99, eps added outside the square root
        opt = optax.rmsprop(lr, decay=0.99, eps=1e-8, eps_in_sqrt=False)
    elif cfg.name == "sgd":
        opt = optax.sgd(lr, momentum=cfg.get("momentum", 0.0) or None)
    else:
        raise ConfigError(f"unknown optimizer {cfg.name!r}; choose one of {', '.join(OPTIMIZERS)}")
    clip = cfg.get("weight_clip", 0.0)
    return optax.chain(opt, clip_params(clip)) if clip else opt
