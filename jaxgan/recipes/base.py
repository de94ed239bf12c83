"""The contract between a recipe (how one GAN is trained) and the recipe-agnostic trainer and infer.py.

A recipe is built from the config and provides:

- ``example_batch(rows)`` and ``init(rng, batch) -> TrainState``: the full device state;
- ``init_host_state(local_batch)``: host-side numpy state (CycleGAN's image pools), default none; the
  trainer holds it, hands it to every iteration and checkpoints it per host;
- ``frozen_networks()``: fixed feature networks (VGG19...) the trainer loads once and passes to every
  update as ``frozen``;
- ``update(step_number)``: the pure update (every D and G update of one iteration) that step runs, by
  default `train_step`; a phase is a function of the (1-based) step number (SRGAN). An update leaves
  ``state.step`` alone: the trainer counts steps (`counted`). The trainer may run several consecutive
  steps of one update in one dispatch (``steps_per_dispatch``);
- ``make_step(mesh, frozen) -> Step``: the per-iteration function the trainer calls with the step
  number it is running. The default jits each step's `counted` `update` through `parallel.jit_sharded`;
  a recipe whose iteration needs the host (CycleGAN's image pools, with a host-side RNG that is a
  function of the step number) overrides it, counts the step with `counted` too, and returns None from
  `update`;
- ``generator_spec`` + ``predict(variables, inputs, **choices)``: what the generator consumes and its
  one inference function (infer.py, evaluation and sample grids all go through it); ``choice_help``
  declares each choice infer.py offers as ``--<name>`` (the recipe class's, known before any run is
  loaded); ``check_choice`` vets a choice's value before anything runs;
- where the generator consumes ``text``: ``vocabulary`` (the run's words) and ``encode_prompts(prompts)``
  (free text -> the word ids `predict` takes);
- ``sample_inputs`` / ``sample_grid``: the fixed inputs and layout of the sample grids; ``evaluators``:
  the recipe's own groups of quality figures on held-out data, by name (``config.eval.figures`` names
  which run; `evaluate` runs them); ``scoring_sets``: what FID and the other sample metrics compare
  (generated images against real ones).
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Mapping

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan import parallel
from jaxgan.data import augment
from jaxgan.data.pipeline import DataSpec
from jaxgan.errors import ConfigError
from jaxgan.parallel import BATCH, REPLICATED
from jaxgan.state import Batch, HostState, Metrics, NetState, TrainState, init_net, new_state, with_ema

#: ``update(state, batch, frozen) -> (state, metrics)``: every D and G update of one iteration, pure
Update = Callable[[TrainState, Batch, dict[str, Any]], tuple[TrainState, Metrics]]
#: ``step(step_number, state, batch, host) -> (state, host, metrics)``
Step = Callable[[int, TrainState, Batch, HostState], tuple[TrainState, HostState, Metrics]]
__all__ = ["Batch", "Evaluator", "FrozenNetwork", "GeneratorSpec", "HostState", "Metrics", "NetState", "Recipe", "Step",
           "TrainState", "Update", "DIRECTION_HELP", "choice_help", "counted", "init_net", "model_options", "new_state"]


#: infer.py's help for the ``direction`` choice of the translation recipes
DIRECTION_HELP = "Translation direction, AtoB or BtoA (a pix2pix run: the one it learnt); all: each, into OUTPUT/<direction>/."


def counted(update: Update) -> Update:
    """``update`` followed by ``state.step + 1``: the one place a step is counted (the default `make_step`,
    the trainer's several-steps loop and a recipe's own `make_step` all run their updates through it), so
    ``state.step_rng()`` and the moving average's warm-up see each step once."""
    def step(state: TrainState, batch: Batch, frozen: dict[str, Any]) -> tuple[TrainState, Metrics]:
        state, metrics = update(state, batch, frozen)
        return state.replace(step=state.step + 1), metrics

    return step


@dataclasses.dataclass(frozen=True)
class GeneratorSpec:
    """What a recipe's generator consumes and produces; infer.py derives its modes and checks from it.

    ``consumes``: ``noise`` (``latent_dim`` values per image), ``text`` (``{"noise", "text"}``: noise and
    a caption's word ids, from the recipe's ``encode_prompts``) or ``image`` (``channels`` channels, sides
    padded to ``size_multiple``, output ``scale`` times larger). ``tile_margin`` > 0 declares a bounded
    receptive field: images then run in overlapping tiles of ``tile`` input pixels with that overlap.
    ``choices`` are named options of `Recipe.predict` with their allowed values, the first the default
    (CycleGAN: ``{"direction": ("AtoB", "BtoA")}``), or None for free text (a prompt). infer.py offers each
    as ``--<name>``; those in ``required`` have no default (StarGAN's ``target``).
    """

    consumes: str
    channels: int
    latent_dim: int = 0
    choices: Mapping[str, tuple[str, ...] | None] = dataclasses.field(default_factory=dict)
    required: tuple[str, ...] = ()
    size_multiple: int = 1
    scale: int = 1
    tile_margin: int = 0
    tile: int = 0


@dataclasses.dataclass(frozen=True)
class Evaluator:
    """One named group of a recipe's quality figures: the recipe's method computing them,
    ``(variables, train, held_out) -> {figure: value}``, and the data fields both splits must hold."""

    method: str
    needs: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class FrozenNetwork:
    """A fixed feature network (e.g. VGG19 for a content loss): its module and how to load its variables
    (from a local file; nothing is downloaded). The trainer loads each once, replicated."""

    module: flax.linen.Module
    load: Callable[[], Any]


class Recipe:
    """Base class of a GAN recipe. The trainer and infer.py know only this interface (see the module doc)."""

    #: consecutive examples each batch row holds (e.g. WGAN's n_critic real batches per step)
    examples_per_row: int = 1
    #: whether `sample_inputs` needs real examples (translation recipes) rather than only noise
    needs_examples: bool = False
    #: the nets `predict` needs; inference restores only these (and `auxiliary_names`)
    generator_names: tuple[str, ...] = ("G",)
    #: other nets `predict` uses, never averaged (StarGAN's D estimates a photo's own attributes)
    auxiliary_names: tuple[str, ...] = ()
    #: batch fields that are labels, not images (no crop or flip)
    label_fields: tuple[str, ...] = ()
    #: steps whose checkpoints are saved and always kept (e.g. the end of SRGAN's pre-training)
    milestones: tuple[int, ...] = ()
    generator_spec: GeneratorSpec

    #: whether training and evaluation take images at their own size (``data.resize=none``)
    native_scale: bool = False
    #: ``{choice: help}``: the named options of `predict` (their values: ``generator_spec.choices``),
    #: offered by infer.py as ``--<choice>``
    choice_help: Mapping[str, str] = {}
    #: the words prompts are made of (recipes whose generator consumes ``text``)
    vocabulary: tuple[str, ...] = ()
    #: ``{dotted config field: allowed values}`` and ``{dotted config field: (low, high or None)}`` of the
    #: recipe's own fields: `jaxgan.config.validate` checks them before anything runs
    option_names: Mapping[str, tuple[str, ...]] = {}
    option_ranges: Mapping[str, tuple[float, float | None]] = {}
    #: ``{dotted config field: value}``: the value of each of the recipe's own fields that runs recorded
    #: before the field existed ran with; `jaxgan.config.load_json` fills them in, so the recipe reads every
    #: field directly
    field_defaults: Mapping[str, Any] = {}
    #: ``{name: Evaluator}``: the groups of quality figures the recipe computes; ``config.eval.figures``
    #: names those a run reports
    evaluators: Mapping[str, Evaluator] = {}

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        if config.data.get("resize") == "none" and not self.native_scale:
            raise ConfigError(f"data.resize=none (images at their own size) is not supported by {config.recipe}; "
                              f"use crop or stretch")

    # ----------------------------------------------------------------------------------- training
    def example_batch(self, rows: int = 1) -> dict[str, np.ndarray]:
        """A zero batch of the shapes `train_step` takes (for abstract initialisation)."""
        c = self.config
        shape = (rows,) + ((self.examples_per_row,) if self.examples_per_row > 1 else ())
        return {"image": np.zeros(shape + (c.image_size, c.image_size, c.data.channels), np.float32)}

    @property
    def data_spec(self) -> DataSpec:
        """The fields `train_step` reads (the keys of `example_batch`), loaded at ``data.load_size`` and
        cropped to ``image_size`` with the same random crop (and flip) for every image field; with
        ``data.resize=none``, cropped from each image at its own size (and evaluated on whole images)."""
        c = self.config
        fields = tuple(self.example_batch())
        images = tuple(f for f in fields if f not in self.label_fields)
        jitter = functools.partial(augment.crop_and_flip, image_fields=images, size=c.image_size,
                                   flip=bool(c.data.random_flip))
        if c.data.get("resize") == "none":          # own scale: random crops for training, whole images for evaluation
            return DataSpec(fields, 0, 0, jitter, augment.crop_window(images, c.image_size))
        load = max(c.data.load_size or c.image_size, c.image_size)
        return DataSpec(fields, load, c.image_size, jitter)

    def init(self, rng: jax.Array, batch: Batch) -> TrainState:
        raise NotImplementedError

    def init_state(self, rng: jax.Array, batch: Batch) -> TrainState:
        """`init`, plus the generators' moving average where ``config.ema_decay`` asks for one."""
        state = self.init(rng, batch)
        return with_ema(state, self.generator_names) if self.config.ema_decay else state

    def init_host_state(self, local_batch: dict[str, np.ndarray]) -> HostState:
        """Fixed-shape host-side state (numpy), given this host's share of a batch; none by default."""
        return {}

    def frozen_networks(self) -> dict[str, FrozenNetwork]:
        return {}

    def train_step(self, state: TrainState, batch: Batch, frozen: dict[str, Any]) -> tuple[TrainState, Metrics]:
        """Every D and G update of one iteration, pure (the default `update` of every step)."""
        raise NotImplementedError

    def update(self, step_number: int) -> Update | None:
        """The pure update step ``step_number`` (1-based) runs; None where an iteration needs the host
        (then only the recipe's own `make_step` can run it, one step per dispatch)."""
        del step_number
        return self.train_step

    def make_step(self, mesh: jax.sharding.Mesh, frozen: dict[str, Any]) -> Step:
        """The per-iteration function the trainer calls: each step's jitted `update` (a phase's update
        compiles when first reached)."""
        compiled: dict[Update, Callable[..., Any]] = {}

        def step(step_number: int, state: TrainState, batch: Batch, host: HostState
                 ) -> tuple[TrainState, HostState, Metrics]:
            update = self.update(step_number)
            if update not in compiled:
                compiled[update] = parallel.jit_sharded(counted(update), mesh, (REPLICATED, BATCH, REPLICATED),
                                                        (REPLICATED, REPLICATED), donate_argnums=0)
            state, metrics = compiled[update](state, batch, frozen)
            return state, host, metrics

        return step

    # ---------------------------------------------------------------------------------- generation
    def predict(self, variables: dict[str, Any], inputs: jax.Array, **choices: str) -> jax.Array:
        """The generator(s) on ``inputs`` (noise, or images in [-1, 1]) -> images in [-1, 1]."""
        raise NotImplementedError

    def generator_variables(self, state: TrainState) -> dict[str, Any]:
        """What samples, evaluation and inference use: the generators' moving average where kept, else the
        live nets; the `auxiliary_names` nets live."""
        live = {name: state.nets[name].variables for name in self.generator_names + self.auxiliary_names}
        return {**live, **state.ema}

    def encode_prompts(self, prompts: list[str]) -> np.ndarray:
        """Word ids ``[len(prompts), words]`` of free-text prompts, as `predict`'s ``text`` input (recipes
        whose generator consumes ``text``)."""
        raise ConfigError(f"recipe {self.config.recipe} does not generate from text")

    def check_choice(self, name: str, value: str) -> None:
        """Raises `ConfigError` unless ``value`` is allowed for `predict`'s choice ``name`` (by default:
        one of the values `generator_spec` lists)."""
        allowed = self.generator_spec.choices[name]
        if allowed is not None and value not in allowed:
            raise ConfigError(f"this run's --{name} can be {' or '.join(allowed)}, not {value!r}")

    def sample_inputs(self, rng: jax.Array, num: int, examples: dict[str, Any] | None = None) -> Any:
        """Fixed inputs for sample grids: noise, or (translation) ``examples`` of real data."""
        raise NotImplementedError

    def sample_grid(self, variables: dict[str, Any], inputs: Any) -> jax.Array:
        """Images for `sample_inputs` (translation recipes: input | output | ... side by side)."""
        return self.predict(variables, inputs)

    def evaluate(self, variables: dict[str, Any], train: dict[str, Any] | None,
                 held_out: dict[str, Any] | None) -> dict[str, float]:
        """The figures of the evaluators ``config.eval.figures`` names (logged during and at the end of
        training), or none where there is no evaluation data.

        ``variables`` are the generators' (`generator_variables`); ``train`` / ``held_out`` are real
        evaluation arrays (images in [-1, 1], other fields in their own dtype), or None where none exist.
        """
        if train is None or held_out is None:
            return {}
        self.check_evaluation_fields(set(train) & set(held_out))
        results: dict[str, float] = {}
        for name in figure_names(self.config):
            results.update(getattr(self, self.evaluators[name].method)(variables, train, held_out))
        return results

    def check_evaluation_fields(self, fields: Any) -> None:
        """Raises a `ConfigError` where an evaluator ``config.eval.figures`` names needs a data field
        that is not among ``fields`` (checked when training starts, so it never fails at the end)."""
        for name in figure_names(self.config):
            missing = [f for f in self.evaluators[name].needs if f not in fields]
            if missing:
                raise ConfigError(f"config.eval.figures={name} needs the evaluation data's {', '.join(missing)} "
                                  f"field (this data has {', '.join(sorted(fields))}); name other figures or none: "
                                  f"--config.eval.figures=''")

    def scoring_sets(self, variables: dict[str, Any], train: dict[str, Any] | None, held_out: dict[str, Any] | None,
                     num: int, seed: int) -> dict[str, Any]:
        """``{name: metrics.run_scores.ScoringSet}``: up to ``num`` generated images and the real images
        they should resemble, for sample metrics (FID...); one set per direction or domain where there are
        several (named, e.g. ``AtoB``), else one named ``""``. Empty where nothing can be scored."""
        return {}


def figure_names(config: ml_collections.ConfigDict) -> tuple[str, ...]:
    """The evaluator names of ``config.eval.figures`` (comma-separated; '' for none)."""
    return tuple(name.strip() for name in config.eval.figures.split(",") if name.strip())


def choice_help(recipes: Any) -> dict[str, str]:
    """``{choice: help}`` over the recipe classes ``recipes`` (infer.py's choice flags); a choice two recipes
    share keeps the first one's help."""
    out: dict[str, str] = {}
    for recipe in recipes:
        for name, text in recipe.choice_help.items():
            out.setdefault(name, text)
    return out


def model_options(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """The fields every model takes from ``config.model``: compute dtype and convolution lowering."""
    return {"dtype": compute_dtype(config.model.dtype), "conv_impl": config.model.conv_impl}


def compute_dtype(name: str) -> jnp.dtype:
    """``config.model.dtype``; ``auto`` is bfloat16 on GPU and TPU (mixed precision: parameters, optimiser
    state, losses and normalisation statistics stay float32) and float32 on CPU, where bfloat16 is slower."""
    if name == "auto":
        return jnp.dtype(jnp.float32 if jax.default_backend() == "cpu" else jnp.bfloat16)
    return jnp.dtype(name)
