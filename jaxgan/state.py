"""The device state of a training run: every network's variables and optimiser state, the step, the RNG."""
from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan.nn import init_keys

Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]
HostState = dict[str, np.ndarray]


@flax.struct.dataclass
class NetState:
    """One network: its parameters, batch-norm statistics and optimiser state."""

    params: Any
    batch_stats: Any
    opt_state: Any

    @property
    def variables(self) -> dict[str, Any]:
        return {"params": self.params, "batch_stats": self.batch_stats}


@flax.struct.dataclass
class TrainState:
    """Everything a training run needs to continue exactly: step, RNG and every network."""

    step: jax.Array
    rng: jax.Array          # raw uint32 key data, so it checkpoints as a plain array
    nets: dict[str, NetState]
    ema: dict[str, Any] = flax.struct.field(default_factory=dict)   # generators' averaged variables, if kept

    def step_rng(self) -> jax.Array:
        """This step's key: a pure function of the run's key and the step, so resume is exact."""
        return jax.random.fold_in(self.rng, self.step)


def init_net(module: flax.linen.Module, optimizer: optax.GradientTransformation | None, rng: jax.Array,
             *inputs: Any) -> NetState:
    """Initialises a module's variables and (when training it) its optimiser state. The parameters are
    drawn with `init_keys.init_key` (a hash generator that compiles far faster than threefry)."""
    variables = module.init(init_keys.init_key(rng), *inputs, train=False)
    params = variables["params"]
    return NetState(params=params, batch_stats=variables.get("batch_stats", {}),
                    opt_state=optimizer.init(params) if optimizer else None)


def new_state(rng: jax.Array, nets: dict[str, NetState]) -> TrainState:
    return TrainState(step=jnp.zeros((), jnp.int32), rng=rng, nets=nets)


def with_ema(state: TrainState, names: tuple[str, ...]) -> TrainState:
    """``state`` keeping an exponential moving average of the variables of the nets ``names``, starting
    from their current values."""
    return state.replace(ema={name: state.nets[name].variables for name in names})


def update_ema(state: TrainState, decay: float) -> TrainState:
    """One EMA step after update number ``state.step``: ``ema = d * ema + (1 - d) * live`` for params and
    batch-norm statistics alike, with ``d = min(decay, (1 + step) / (10 + step))`` so that early averages
    are not dominated by the initial weights (the warm-up of TensorFlow's ExponentialMovingAverage)."""
    step = state.step.astype(jnp.float32)
    d = jnp.minimum(decay, (1.0 + step) / (10.0 + step))
    live = {name: state.nets[name].variables for name in state.ema}
    return state.replace(ema=jax.tree.map(lambda e, x: d * e + (1.0 - d) * x, state.ema, live))
