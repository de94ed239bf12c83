"""CycleGAN (Zhu et al. 2017): two ResNet generators, two PatchGANs, least-squares GAN loss, cycle and
identity losses, and a pool of past fakes per discriminator held on the host.

One iteration: a jitted generator update (both generators, joint loss: adversarial + lambda_cycle *
cycle + lambda_identity * identity), the fakes pass through the host-side image pools, then a jitted
update of both discriminators on real vs pooled fakes (loss halved). G_AB maps A->B, G_BA maps B->A.
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from jax.experimental import multihost_utils
from jax.sharding import PartitionSpec as P

from jaxgan import losses, models, parallel
from jaxgan.image_pool import ImagePool
from jaxgan.optim import make_optimizer
from jaxgan.recipes.base import Batch, Metrics, NetState, Recipe, TrainState, init_net, new_state

GENERATORS = {"AtoB": "G_AB", "BtoA": "G_BA"}


class CycleGAN(Recipe):
    needs_examples = True
    generator_names = ("G_AB", "G_BA")

    def __init__(self, config: ml_collections.ConfigDict):
        super().__init__(config)
        m, c = config.model, config.data.channels
        if m.norm == "batch":
            raise ValueError("cyclegan uses instance norm (or layer / none), not batch norm")
        dtype = jnp.dtype(m.dtype)
        self.G = models.ResNetGenerator(c, m.num_blocks, m.g_features, m.norm, dtype=dtype)
        self.D = models.PatchGAN(m.d_features, m.n_layers, m.norm, dtype=dtype)
        self.g_opt = make_optimizer(config.optim.g, config.num_steps)
        self.d_opt = make_optimizer(config.optim.d, config.num_steps)
        self.loss = config.gan.loss
        self.lambda_cycle = float(config.gan.lambda_cycle)
        self.lambda_identity = float(config.gan.lambda_identity) * self.lambda_cycle
        self.pools = {"A": ImagePool(config.gan.pool_size), "B": ImagePool(config.gan.pool_size)}
        self.size_multiple = 4              # two stride-2 downsamplings
        self.pool_seconds = 0.0          # host time spent in the pools (for the benchmark's share)

    def example_batch(self, rows: int = 1) -> dict[str, np.ndarray]:
        c = self.config
        zeros = np.zeros((rows, c.image_size, c.image_size, c.data.channels), np.float32)
        return {"A": zeros, "B": zeros}

    def init(self, rng: jax.Array, batch: Batch) -> TrainState:
        keys = jax.random.split(rng, 5)
        a = batch["A"][:1]
        nets = {"G_AB": init_net(self.G, None, keys[0], a), "G_BA": init_net(self.G, None, keys[1], a),
                "D_A": init_net(self.D, None, keys[2], a), "D_B": init_net(self.D, None, keys[3], a)}
        # One optimiser over both generators and one over both discriminators, as in the paper's code.
        g_params = {k: nets[k].params for k in ("G_AB", "G_BA")}
        d_params = {k: nets[k].params for k in ("D_A", "D_B")}
        nets["G_opt"] = NetState(params={}, batch_stats={}, opt_state=self.g_opt.init(g_params))
        nets["D_opt"] = NetState(params={}, batch_stats={}, opt_state=self.d_opt.init(d_params))
        return new_state(keys[4], nets)

    # ------------------------------------------------------------------------------------ updates
    def generator_step(self, state: TrainState, batch: Batch) -> tuple[TrainState, dict[str, jax.Array], Metrics]:
        """Both generators' joint update; returns the fakes for the pools."""
        nets = state.nets
        real_a, real_b = batch["A"], batch["B"]

        def g(name, params, x):
            return self.G.apply({"params": params, "batch_stats": nets[name].batch_stats}, x)

        def d(name, x):
            return self.D.apply(nets[name].variables, x)

        def loss_fn(params):
            fake_b, fake_a = g("G_AB", params["G_AB"], real_a), g("G_BA", params["G_BA"], real_b)
            adversarial = (losses.generator_loss(self.loss, d("D_B", fake_b))
                           + losses.generator_loss(self.loss, d("D_A", fake_a)))
            cycle = (losses.l1(g("G_BA", params["G_BA"], fake_b), real_a)
                     + losses.l1(g("G_AB", params["G_AB"], fake_a), real_b))
            loss = adversarial + self.lambda_cycle * cycle
            metrics = {"g_adversarial": adversarial, "cycle": cycle}
            if self.lambda_identity:
                identity = (losses.l1(g("G_AB", params["G_AB"], real_b), real_b)
                            + losses.l1(g("G_BA", params["G_BA"], real_a), real_a))
                loss = loss + self.lambda_identity * identity
                metrics["identity"] = identity
            metrics["g_loss"] = loss
            return loss, (metrics, {"A": fake_a, "B": fake_b})

        params = {k: nets[k].params for k in ("G_AB", "G_BA")}
        grads, (metrics, fakes) = jax.grad(loss_fn, has_aux=True)(params)
        updates, opt_state = self.g_opt.update(grads, nets["G_opt"].opt_state, params)
        new = dict(nets, G_opt=nets["G_opt"].replace(opt_state=opt_state))
        for k in ("G_AB", "G_BA"):
            new[k] = nets[k].replace(params=optax.apply_updates(params[k], updates[k]))
        return state.replace(nets=new), fakes, metrics

    def discriminator_step(self, state: TrainState, batch: Batch, pooled: dict[str, jax.Array]
                           ) -> tuple[TrainState, Metrics]:
        """Both discriminators' update on real images vs pooled fakes."""
        nets = state.nets

        def loss_fn(params):
            total, metrics = 0.0, {}
            for side in ("A", "B"):
                name = f"D_{side}"
                variables = {"params": params[name], "batch_stats": nets[name].batch_stats}
                real, fake = self.D.apply(variables, batch[side]), self.D.apply(variables, pooled[side])
                loss = 0.5 * losses.discriminator_loss(self.loss, real, fake)
                metrics[f"d_{side}_loss"] = loss
                metrics[f"d_{side}_real"] = losses.discriminator_output(self.loss, real)
                metrics[f"d_{side}_fake"] = losses.discriminator_output(self.loss, fake)
                total = total + loss
            metrics["d_loss"] = total
            return total, metrics

        params = {k: nets[k].params for k in ("D_A", "D_B")}
        grads, metrics = jax.grad(loss_fn, has_aux=True)(params)
        updates, opt_state = self.d_opt.update(grads, nets["D_opt"].opt_state, params)
        new = dict(nets, D_opt=nets["D_opt"].replace(opt_state=opt_state))
        for k in ("D_A", "D_B"):
            new[k] = nets[k].replace(params=optax.apply_updates(params[k], updates[k]))
        metrics["d_real"] = 0.5 * (metrics["d_A_real"] + metrics["d_B_real"])
        metrics["d_fake"] = 0.5 * (metrics["d_A_fake"] + metrics["d_B_fake"])
        return state.replace(step=state.step + 1, nets=new), metrics

    def compile_step(self, mesh: jax.sharding.Mesh) -> Callable[[TrainState, Batch], tuple[TrainState, Metrics]]:
        """Jitted G update -> host image pools -> jitted D update."""
        import time

        repl, batch_sh = parallel.replicated(mesh), parallel.batch_sharded(mesh)
        g_step = jax.jit(self.generator_step, in_shardings=(repl, batch_sh),
                         out_shardings=(repl, batch_sh, repl), donate_argnums=0)
        d_step = jax.jit(self.discriminator_step, in_shardings=(repl, batch_sh, batch_sh),
                         out_shardings=(repl, repl), donate_argnums=0)
        seed = int(self.config.seed)
        counter = {"step": None}

        def step(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
            if counter["step"] is None:
                counter["step"] = int(state.step)          # once per run: the host's step counter
            state, fakes, g_metrics = g_step(state, batch)
            jax.block_until_ready(fakes)             # the pool needs them on the host anyway
            t0 = time.perf_counter()
            rng = np.random.default_rng([seed, counter["step"], jax.process_index()])
            local = {side: np.asarray(multihost_utils.global_array_to_host_local_array(
                fakes[side], mesh, P(parallel.BATCH_AXIS))) for side in ("A", "B")}
            pooled = {side: self.pools[side].query(local[side], rng) for side in ("A", "B")}
            pooled = parallel.global_batch(pooled, mesh)
            self.pool_seconds += time.perf_counter() - t0
            counter["step"] += 1
            state, d_metrics = d_step(state, batch, pooled)
            return state, {**g_metrics, **d_metrics}

        return step

    def host_state(self) -> dict[str, np.ndarray]:
        return {f"pool_{side}": pool.state() for side, pool in self.pools.items()}

    def load_host_state(self, host: dict[str, np.ndarray]) -> None:
        for side, pool in self.pools.items():
            pool.load(np.asarray(host.get(f"pool_{side}", np.zeros((0,), np.float32))))

    # ---------------------------------------------------------------------------------- generation
    def translate(self, variables: dict[str, Any], images: jax.Array, direction: str | None = "AtoB") -> jax.Array:
        name = GENERATORS.get(direction or "AtoB")
        if name is None:
            raise ValueError(f"direction must be AtoB or BtoA, not {direction!r}")
        return self.G.apply(variables[name], images)

    def sample_inputs(self, rng: jax.Array, num: int, examples: dict[str, np.ndarray] | None = None) -> Any:
        return {"A": examples["A"][:num], "B": examples["B"][:num]}

    def generate(self, variables: dict[str, Any], inputs: Any) -> jax.Array:
        """Rows of A | G_AB(A) | G_BA(G_AB(A)) followed by rows of B | G_BA(B) | G_AB(G_BA(B))."""
        rows = []
        for src, there, back in (("A", "AtoB", "BtoA"), ("B", "BtoA", "AtoB")):
            out = self.translate(variables, inputs[src], there)
            rows.append(jnp.concatenate([inputs[src], out, self.translate(variables, out, back)], axis=2))
        return jnp.concatenate(rows, axis=0)

    def evaluate(self, variables: dict[str, Any], train: dict[str, np.ndarray] | None,
                 held_out: dict[str, np.ndarray] | None) -> dict[str, float]:
        """Cycle-reconstruction L1 both ways on held-out images (A->B->A and B->A->B)."""
        if held_out is None:
            return {}
        translate = jax.jit(self.translate, static_argnums=2)
        results = {}
        for src, there, back in (("A", "AtoB", "BtoA"), ("B", "BtoA", "AtoB")):
            errors = []
            for i in range(0, len(held_out[src]), 16):
                x = held_out[src][i:i + 16]
                rec = translate(variables, translate(variables, x, there), back)
                errors.append(np.abs(np.asarray(rec) - x).mean(axis=(1, 2, 3)))
            results[f"cycle_l1_{src}"] = float(np.concatenate(errors).mean())
        return results
