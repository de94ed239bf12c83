"""The contract between a recipe (how one GAN is trained) and the recipe-agnostic trainer."""
from __future__ import annotations

from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxgan import parallel

Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]


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

    def step_rng(self) -> jax.Array:
        """This step's key: a pure function of the run's key and the step, so resume is exact."""
        return jax.random.fold_in(self.rng, self.step)


def init_net(module: flax.linen.Module, optimizer: optax.GradientTransformation | None, rng: jax.Array,
             *inputs: Any) -> NetState:
    """Initialises a module's variables and (when training it) its optimiser state."""
    variables = module.init(rng, *inputs, train=False)
    params = variables["params"]
    return NetState(params=params, batch_stats=variables.get("batch_stats", {}),
                    opt_state=optimizer.init(params) if optimizer else None)


def apply_grads(net: NetState, grads: Any, optimizer: optax.GradientTransformation,
                batch_stats: Any = None) -> NetState:
    """One optimiser update (the optimiser sees params, as weight clipping needs)."""
    updates, opt_state = optimizer.update(grads, net.opt_state, net.params)
    return NetState(params=optax.apply_updates(net.params, updates),
                    batch_stats=net.batch_stats if batch_stats is None else batch_stats, opt_state=opt_state)


class Recipe:
    """Base class of a GAN recipe. The trainer knows only this interface.

    A recipe provides pure functions: `init` builds the full `TrainState`, `train_step` performs every
    D and G update of one iteration (the trainer jits it, donates the state and shards the batch),
    `generate` maps generator variables and inputs to images (sampling, evaluation, infer.py), and
    `evaluate` computes the recipe's quality figures on the host.
    """

    #: consecutive examples each batch row holds (e.g. WGAN's n_critic real batches per step)
    examples_per_row: int = 1
    #: whether `sample_inputs` needs real examples (translation recipes) rather than only noise
    needs_examples: bool = False
    #: translation recipes: image sides must be multiples of this (infer.py pads to it)
    size_multiple: int = 1
    #: translation recipes: output side / input side (super-resolution: 2 or 4)
    scale: int = 1
    #: which nets `generate` needs (infer.py restores only what it needs to know about)
    generator_names: tuple[str, ...] = ("G",)

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config

    def init(self, rng: jax.Array, batch: Batch) -> TrainState:
        raise NotImplementedError

    def example_batch(self, rows: int = 1) -> dict[str, np.ndarray]:
        """A zero batch of the shapes `train_step` takes (for abstract initialisation)."""
        c = self.config
        shape = (rows,) + ((self.examples_per_row,) if self.examples_per_row > 1 else ())
        return {"image": np.zeros(shape + (c.image_size, c.image_size, c.data.channels), np.float32)}

    def train_step(self, state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        raise NotImplementedError

    def compile_step(self, mesh: jax.sharding.Mesh) -> Callable[[TrainState, Batch], tuple[TrainState, Metrics]]:
        """The per-iteration update the trainer calls: `train_step` jitted with the state replicated and
        donated and the batch sharded. A recipe with host state between updates (CycleGAN's image pool)
        overrides this to chain its jitted parts around the host work."""
        repl, batch_sh = parallel.replicated(mesh), parallel.batch_sharded(mesh)
        return jax.jit(self.train_step, in_shardings=(repl, batch_sh), out_shardings=(repl, repl),
                       donate_argnums=0)

    def host_state(self) -> dict[str, np.ndarray]:
        """Host-side state checkpointed with the `TrainState` (numpy arrays); none by default."""
        return {}

    def load_host_state(self, host: dict[str, np.ndarray]) -> None:
        """Restores what `host_state` returned."""

    def sample_inputs(self, rng: jax.Array, num: int, examples: dict[str, np.ndarray] | None = None) -> Any:
        """Fixed inputs for sample grids and infer.py: noise, or (translation) ``examples`` of real data."""
        raise NotImplementedError

    def generate(self, variables: dict[str, Any], inputs: Any) -> jax.Array:
        """Images for `sample_inputs` (translation recipes: input | output | ... side by side)."""
        raise NotImplementedError

    def generator_variables(self, state: TrainState) -> dict[str, Any]:
        return {name: state.nets[name].variables for name in self.generator_names}

    def evaluate(self, variables: dict[str, Any], train: dict[str, np.ndarray] | None,
                 held_out: dict[str, np.ndarray] | None) -> dict[str, float]:
        """Quality figures logged during and at the end of training; empty by default.

        ``variables`` are the generators' (`generator_variables`); ``train`` / ``held_out`` are real
        evaluation arrays in [-1, 1] (``image``/``label``, ``A``/``B``, or super-resolution's ``hr`` /
        ``lr`` lists of whole images), or None where none exist.
        """
        return {}


def new_state(rng: jax.Array, nets: dict[str, NetState]) -> TrainState:
    return TrainState(step=jnp.zeros((), jnp.int32), rng=rng, nets=nets)
