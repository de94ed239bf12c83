"""pix2pix (Isola et al. 2017): a U-Net generator and a conditional PatchGAN trained on paired images.

Per step: one D update on (input, target) vs (input, G(input)) with the adversarial loss halved, then
one G update on adversarial + ``lambda_l1`` * L1(G(input), target), reusing the D-step's G forward pass.
``config.direction`` AtoB or BtoA picks which side of each pair is the input.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan import losses, models
from jaxgan.metrics import image_quality
from jaxgan.optim import make_optimizer
from jaxgan.recipes.base import Batch, Metrics, Recipe, TrainState, apply_grads, init_net, new_state

DIRECTIONS = ("AtoB", "BtoA")


def split_direction(batch: dict[str, Any], direction: str) -> tuple[Any, Any]:
    """``(input, target)`` of a paired batch for ``direction``."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be AtoB or BtoA, not {direction!r}")
    return (batch["A"], batch["B"]) if direction == "AtoB" else (batch["B"], batch["A"])


class Pix2Pix(Recipe):
    needs_examples = True

    def __init__(self, config: ml_collections.ConfigDict):
        super().__init__(config)
        m, c = config.model, config.data.channels
        dtype = jnp.dtype(m.dtype)
        self.G = models.UNetGenerator(c, m.num_downs, m.g_features, m.norm, m.dropout, dtype=dtype)
        self.D = models.PatchGAN(m.d_features, m.n_layers, m.norm, dtype=dtype)
        self.g_opt = make_optimizer(config.optim.g, config.num_steps)
        self.d_opt = make_optimizer(config.optim.d, config.num_steps)
        self.loss, self.lambda_l1 = config.gan.loss, float(config.gan.lambda_l1)
        self.direction = config.direction
        split_direction({"A": 0, "B": 0}, self.direction)
        self.size_multiple = 2 ** m.num_downs

    def example_batch(self, rows: int = 1) -> dict[str, np.ndarray]:
        c = self.config
        zeros = np.zeros((rows, c.image_size, c.image_size, c.data.channels), np.float32)
        return {"A": zeros, "B": zeros}

    def init(self, rng: jax.Array, batch: Batch) -> TrainState:
        g_key, d_key, run_key = jax.random.split(rng, 3)
        source, target = split_direction(batch, self.direction)
        pair = jnp.concatenate([source[:1], target[:1]], axis=-1)
        return new_state(run_key, {"G": init_net(self.G, self.g_opt, g_key, source[:1]),
                                   "D": init_net(self.D, self.d_opt, d_key, pair)})

    def train_step(self, state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        g, d = state.nets["G"], state.nets["D"]
        source, target = split_direction(batch, self.direction)

        def generate(params):
            return self.G.apply({"params": params, "batch_stats": g.batch_stats}, source,
                                rngs={"dropout": state.step_rng()}, mutable=["batch_stats"])

        fake, g_vjp, g_upd = jax.vjp(generate, g.params, has_aux=True)

        def d_loss_fn(params):
            variables = {"params": params, "batch_stats": d.batch_stats}
            real_out, upd = self.D.apply(variables, jnp.concatenate([source, target], -1), mutable=["batch_stats"])
            variables = {"params": params, "batch_stats": upd.get("batch_stats", d.batch_stats)}
            fake_out, upd = self.D.apply(variables, jnp.concatenate([source, jax.lax.stop_gradient(fake)], -1),
                                         mutable=["batch_stats"])
            loss = 0.5 * losses.discriminator_loss(self.loss, real_out, fake_out)
            metrics = {"d_loss": loss, "d_real": losses.discriminator_output(self.loss, real_out),
                       "d_fake": losses.discriminator_output(self.loss, fake_out)}
            return loss, (metrics, upd.get("batch_stats", d.batch_stats))

        d_grads, (metrics, d_stats) = jax.grad(d_loss_fn, has_aux=True)(d.params)
        d = apply_grads(d, d_grads, self.d_opt, d_stats)

        def g_loss_fn(fake_images):
            out, _ = self.D.apply(d.variables, jnp.concatenate([source, fake_images], -1), mutable=["batch_stats"])
            adversarial = losses.generator_loss(self.loss, out)
            l1 = losses.l1(fake_images, target)
            return adversarial + self.lambda_l1 * l1, (adversarial, l1)

        (g_loss, (adversarial, l1)), d_fake = jax.value_and_grad(g_loss_fn, has_aux=True)(fake)
        (g_grads,) = g_vjp(d_fake)
        g = apply_grads(g, g_grads, self.g_opt, g_upd.get("batch_stats", g.batch_stats))
        metrics.update(g_loss=g_loss, g_adversarial=adversarial, g_l1=l1)
        return state.replace(step=state.step + 1, nets={"G": g, "D": d}), metrics

    # ---------------------------------------------------------------------------------- generation
    def translate(self, variables: dict[str, Any], images: jax.Array, direction: str | None = None) -> jax.Array:
        """The generator on ``images`` (its training direction; another one is an error)."""
        if direction not in (None, self.direction):
            raise ValueError(f"this pix2pix model was trained {self.direction}; it cannot translate {direction}")
        return self.G.apply(variables["G"], images, train=False)

    def sample_inputs(self, rng: jax.Array, num: int, examples: dict[str, np.ndarray] | None = None) -> Any:
        source, target = split_direction(examples, self.direction)
        return {"source": source[:num], "target": target[:num]}

    def generate(self, variables: dict[str, Any], inputs: Any) -> jax.Array:
        """input | output | target, side by side."""
        out = self.translate(variables, inputs["source"])
        return jnp.concatenate([inputs["source"], out, inputs["target"]], axis=2)

    def evaluate(self, variables: dict[str, Any], train: dict[str, np.ndarray] | None,
                 held_out: dict[str, np.ndarray] | None) -> dict[str, float]:
        """L1, PSNR and SSIM of G(input) against the target on the held-out pairs."""
        if held_out is None:
            return {}
        source, target = split_direction(held_out, self.direction)
        translate = jax.jit(self.translate)
        outputs = np.concatenate([np.asarray(translate(variables, source[i:i + 16]))
                                  for i in range(0, len(source), 16)])
        return image_quality.paired_scores(outputs, target, prefix="held_out_")
