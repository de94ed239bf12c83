"""CycleGAN (Zhu et al. 2017): two ResNet generators, two PatchGANs, least-squares GAN loss, cycle and
identity losses, and a pool of past fakes per discriminator held on the host.

One iteration: a jitted generator update (both generators, joint loss: adversarial + lambda_cycle *
cycle + lambda_identity * identity), the fakes pass through the host-side image pools, then a jitted
update of both discriminators on real vs pooled fakes (loss halved). G_AB maps A->B, G_BA maps B->A.
Each network has its own Adam state; with Adam's per-parameter moments that is the reference code's one
optimiser over both generators (and one over both discriminators), value for value.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.experimental import multihost_utils

from jaxgan import adversarial, image_pool, losses, models, parallel
from jaxgan.errors import ConfigError
from jaxgan.metrics.batching import in_batches
from jaxgan.metrics.run_scores import ScoringSet
from jaxgan.optim import run_optimizer
from jaxgan.parallel import BATCH, REPLICATED
from jaxgan.recipes.base import (DIRECTION_HELP, Batch, Evaluator, GeneratorSpec, HostState, Metrics, Recipe, Step, TrainState, counted,
                                 init_net, model_options, new_state)

GENERATORS = {"AtoB": "G_AB", "BtoA": "G_BA"}
SIDES = ("A", "B")


class CycleGAN(Recipe):
    option_ranges = {"gan.pool_size": (0, None), "model.dropout": (0.0, 0.99)}
    field_defaults = {"model.arch": "resnet", "model.dropout": 0.0, "model.input_skip": False,
                      "model.keep_luminance": False, "eval.figures": "cycle"}
    evaluators = {"cycle": Evaluator("cycle_figures", needs=("A", "B"))}
    choice_help = {"direction": DIRECTION_HELP}
    needs_examples = True
    generator_names = ("G_AB", "G_BA")

    def __init__(self, config: ml_collections.ConfigDict):
        super().__init__(config)
        m, c = config.model, config.data.channels
        if m.norm == "batch":
            raise ConfigError("cyclegan uses instance norm (or instance_affine / layer / none), not batch norm")
        arch = m.arch
        multiple = models.image_to_image.size_multiple(m, arch)
        if config.image_size % multiple:
            raise ConfigError(f"config.image_size ({config.image_size}) must be a multiple of {multiple} for the "
                              f"{arch} generator")
        options = model_options(config)
        self.G = models.image_to_image.image_generator(m, c, arch, **options)
        self.D = models.PatchGAN(m.d_features, m.n_layers, m.norm, **options)
        self.g_opt = run_optimizer(config, "g")
        self.d_opt = run_optimizer(config, "d")
        self.loss = config.gan.loss
        self.lambda_cycle = float(config.gan.lambda_cycle)
        self.lambda_identity = float(config.gan.lambda_identity) * self.lambda_cycle
        self.pool_size = int(config.gan.pool_size)
        if self.pool_size < 0:
            raise ConfigError(f"config.gan.pool_size must be >= 0, got {self.pool_size}")
        self.generator_spec = GeneratorSpec("image", c, size_multiple=multiple,
                                            choices={"direction": tuple(GENERATORS)})

    def example_batch(self, rows: int = 1) -> dict[str, np.ndarray]:
        c = self.config
        zeros = np.zeros((rows, c.image_size, c.image_size, c.data.channels), np.float32)
        return {"A": zeros, "B": zeros}

    def init(self, rng: jax.Array, batch: Batch) -> TrainState:
        keys = jax.random.split(rng, 5)
        a = batch["A"][:1]
        return new_state(keys[4], {"G_AB": init_net(self.G, self.g_opt, keys[0], a),
                                   "G_BA": init_net(self.G, self.g_opt, keys[1], a),
                                   "D_A": init_net(self.D, self.d_opt, keys[2], a),
                                   "D_B": init_net(self.D, self.d_opt, keys[3], a)})

    def init_host_state(self, local_batch: dict[str, np.ndarray]) -> HostState:
        """One pool of past fakes per discriminator, for this host's share of the batch."""
        return {f"pool_{side}": image_pool.empty_pool(self.pool_size, local_batch[side].shape[1:]) for side in SIDES}

    # ------------------------------------------------------------------------------------ updates
    def generator_step(self, state: TrainState, batch: Batch, frozen: dict[str, Any]
                       ) -> tuple[TrainState, Batch, Metrics]:
        """Both generators' joint update; returns the fakes for the pools."""
        nets = state.nets
        real_a, real_b = batch["A"], batch["B"]

        def loss_fn(params):
            def g(name, x):
                return adversarial.apply_train(self.G, nets[name], params[name], x)[0]

            fake_b, fake_a = g("G_AB", real_a), g("G_BA", real_b)
            adversarial_term = (adversarial.adversarial_loss(self.D, nets["D_B"], fake_b, self.loss)
                                + adversarial.adversarial_loss(self.D, nets["D_A"], fake_a, self.loss))
            cycle = losses.l1(g("G_BA", fake_b), real_a) + losses.l1(g("G_AB", fake_a), real_b)
            loss = adversarial_term + self.lambda_cycle * cycle
            metrics = {"g_adversarial": adversarial_term, "cycle": cycle}
            if self.lambda_identity:
                identity = losses.l1(g("G_AB", real_b), real_b) + losses.l1(g("G_BA", real_a), real_a)
                loss = loss + self.lambda_identity * identity
                metrics["identity"] = identity
            metrics["g_loss"] = loss
            return loss, (metrics, {"A": fake_a, "B": fake_b})

        names = tuple(GENERATORS.values())
        grads, (metrics, fakes) = jax.grad(loss_fn, has_aux=True)({k: nets[k].params for k in names})
        updated = {k: adversarial.apply_grads(nets[k], grads[k], self.g_opt) for k in names}
        return state.replace(nets={**nets, **updated}), fakes, metrics

    def discriminator_step(self, state: TrainState, batch: Batch, frozen: dict[str, Any]
                           ) -> tuple[TrainState, Metrics]:
        """Both discriminators' update on real images vs the pooled fakes (``fake_A``, ``fake_B``)."""
        nets, metrics = dict(state.nets), {}
        for side in SIDES:
            name = f"D_{side}"
            nets[name], m = adversarial.discriminator_update(self.D, nets[name], self.d_opt, batch[side],
                                                             batch[f"fake_{side}"], self.loss, scale=0.5)
            metrics.update({f"d_{side}_{k[2:]}": v for k, v in m.items()})
        metrics["d_loss"] = metrics["d_A_loss"] + metrics["d_B_loss"]
        metrics["d_real"] = 0.5 * (metrics["d_A_real"] + metrics["d_B_real"])
        metrics["d_fake"] = 0.5 * (metrics["d_A_fake"] + metrics["d_B_fake"])
        return state.replace(nets=nets), metrics

    def update(self, step_number: int) -> None:
        """None: an iteration passes G's fakes through this host's image pools (`make_step`)."""
        return None

    def make_step(self, mesh: jax.sharding.Mesh, frozen: dict[str, Any]) -> Step:
        """Jitted G update -> this host's image pools -> jitted D update."""
        g_step = parallel.jit_sharded(self.generator_step, mesh, (REPLICATED, BATCH, REPLICATED),
                                      (REPLICATED, BATCH, REPLICATED), donate_argnums=0)
        d_step = parallel.jit_sharded(counted(self.discriminator_step), mesh, (REPLICATED, BATCH, REPLICATED),
                                      (REPLICATED, REPLICATED), donate_argnums=0)
        seed = int(self.config.seed)

        def step(step_number: int, state: TrainState, batch: Batch, host: HostState
                 ) -> tuple[TrainState, HostState, Metrics]:
            state, fakes, g_metrics = g_step(state, batch, frozen)
            local = {side: np.asarray(multihost_utils.global_array_to_host_local_array(fakes[side], mesh, BATCH))
                     for side in SIDES}           # waits for the G update: the pools need the fakes here
            rng = np.random.default_rng([seed, step_number, jax.process_index()])
            host, pooled = dict(host), {}
            for side in SIDES:
                host[f"pool_{side}"], pooled[f"fake_{side}"] = image_pool.query(
                    host[f"pool_{side}"], local[side], rng)
            state, d_metrics = d_step(state, {**batch, **parallel.global_batch(pooled, mesh)}, frozen)
            return state, host, {**g_metrics, **d_metrics}

        return step

    # ---------------------------------------------------------------------------------- generation
    def predict(self, variables: dict[str, Any], inputs: jax.Array, direction: str = "AtoB", **choices: str
                ) -> jax.Array:
        return self.G.apply(variables[GENERATORS[direction]], inputs)

    def sample_inputs(self, rng: jax.Array, num: int, examples: dict[str, Any] | None = None) -> Any:
        return {side: examples[side][:num] for side in SIDES}

    def sample_grid(self, variables: dict[str, Any], inputs: Any) -> jax.Array:
        """Rows of A | G_AB(A) | G_BA(G_AB(A)) followed by rows of B | G_BA(B) | G_AB(G_BA(B))."""
        rows = []
        for src, there, back in (("A", "AtoB", "BtoA"), ("B", "BtoA", "AtoB")):
            out = self.predict(variables, inputs[src], there)
            rows.append(jnp.concatenate([inputs[src], out, self.predict(variables, out, back)], axis=2))
        return jnp.concatenate(rows, axis=0)

    def cycle_figures(self, variables: dict[str, Any], train: dict[str, Any],
                      held_out: dict[str, Any]) -> dict[str, float]:
        """Cycle-reconstruction L1 both ways on held-out images (A->B->A and B->A->B)."""
        predict = jax.jit(self.predict, static_argnums=2)
        results = {}
        for src, there, back in (("A", "AtoB", "BtoA"), ("B", "BtoA", "AtoB")):
            rec = in_batches(lambda x: predict(variables, predict(variables, x, there), back), held_out[src], batch=16)
            results[f"cycle_l1_{src}"] = float(np.abs(rec - held_out[src]).mean())
        return results

    def scoring_sets(self, variables: dict[str, Any], train: dict[str, Any] | None, held_out: dict[str, Any] | None,
                     num: int, seed: int) -> dict[str, ScoringSet]:
        """Each direction: held-out images of one side translated, against the other side's training images."""
        if train is None or held_out is None:
            return {}
        predict = jax.jit(self.predict, static_argnums=2)

        def translated(images: np.ndarray, direction: str) -> Any:
            return lambda: in_batches(lambda x: predict(variables, x, direction), images, batch=16)

        return {"AtoB": ScoringSet(train["B"][:num], translated(held_out["A"][:num], "AtoB")),
                "BtoA": ScoringSet(train["A"][:num], translated(held_out["B"][:num], "BtoA"))}
