"""Optimisers from config, and WGAN weight clipping as an optax `GradientTransformation`."""
from __future__ import annotations

from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
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


def learning_rate(cfg: ml_collections.ConfigDict, num_steps: int, first_step: int = 0,
                  extensions: Sequence[tuple[int, int]] = (), updates_per_step: int = 1) -> optax.Schedule | float:
    """``constant``, or ``linear_decay``: constant for the first ``decay_start`` of the schedule's steps
    (``first_step`` to ``num_steps``; the schedule counts from 0 at ``first_step``), then linearly to 0.
    A network updated ``updates_per_step`` times per training step (a critic's n_critic) follows the
    schedule by training step, not by its own update count.

    ``extensions`` (``[(step, previous num_steps)]``, recorded by the trainer each time a run resumes with
    a new ``num_steps``): a decay already under way at ``step`` continues linearly from its value there to
    0 at the new end instead of jumping back up; one not yet begun follows the new length.
    """
    schedule = cfg.get("schedule", "constant")
    if schedule == "constant":
        return cfg.lr
    if schedule != "linear_decay":
        raise ConfigError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
    lr = float(cfg.lr)

    def fresh(end: int) -> list[tuple[float, float]]:
        length = max(end - first_step, 1)
        start = min(int(cfg.get("decay_start", 0.5) * length), length)
        return [(0, lr)] + [(start, lr)] * (0 < start < length) + [(length, 0.0 if start < length else lr)]

    ends = [int(previous) for _, previous in extensions] + [num_steps]
    knots = fresh(ends[0])
    for (step, _), end in zip(extensions, ends[1:]):
        at, new = step - first_step, fresh(end)
        value = float(np.interp(at, *zip(*knots)))
        if at <= 0 or (value >= lr and at <= new[1][0]):
            knots = new
        else:
            knots = [k for k in knots if k[0] < at] + [(at, value), (max(end - first_step, at + 1), 0.0)]
    xs, ys = (np.asarray(v, np.float32) for v in zip(*knots))
    if updates_per_step > 1:
        return lambda count: jnp.interp(count // updates_per_step, xs, ys)
    return lambda count: jnp.interp(count, xs, ys)


def make_optimizer(cfg: ml_collections.ConfigDict, num_steps: int, lr: optax.Schedule | float | None = None,
                   first_step: int = 0, extensions: Sequence[tuple[int, int]] = (), updates_per_step: int = 1
                   ) -> optax.GradientTransformation:
    """An optimiser from ``cfg.name`` (adam | rmsprop | sgd), ``cfg.lr``, betas, and ``cfg.weight_clip``,
    its learning rate from `learning_rate` (``lr``, when given, replaces it)."""
    lr = learning_rate(cfg, num_steps, first_step, extensions, updates_per_step) if lr is None else lr
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


def extensions_of(config: ml_collections.ConfigDict) -> tuple[tuple[int, int], ...]:
    """The run's recorded ``schedule_extensions`` as ``((step, previous num_steps), ...)``."""
    return tuple((int(step), int(previous)) for step, previous in config.get("schedule_extensions", ()))


def run_optimizer(config: ml_collections.ConfigDict, net: str, first_step: int = 0, updates_per_step: int = 1
                  ) -> optax.GradientTransformation:
    """The optimiser ``config.optim.<net>`` describes, its schedule spanning the run from ``first_step``
    (for a net updated ``updates_per_step`` times per step, counted in steps)."""
    return make_optimizer(config.optim[net], config.num_steps, first_step=first_step,
                          extensions=extensions_of(config), updates_per_step=updates_per_step)
