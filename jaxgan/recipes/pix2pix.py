"""pix2pix (Isola et al. 2017): a U-Net generator and a conditional PatchGAN trained on paired images.

Per step: one D update on (input, target) vs (input, G(input)) with the adversarial loss halved, then
one G update on adversarial + ``lambda_l1`` * L1(G(input), target), reusing the D-step's G forward pass.
``config.direction`` AtoB or BtoA picks which side of each pair is the input.

At test time the generator runs as the paper does (``model.test_batch_stats``, default True): batch norm
on the test image's own statistics and dropout on, each image on its own (the reference code's test
batch of 1). False uses the running averages and no dropout (the reference code's ``--eval``).
"""
from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan import adversarial, losses, models
from jaxgan.batch_translate import pad_to_multiple
from jaxgan.data.images import centre_crop
from jaxgan.errors import ConfigError
from jaxgan.metrics import image_quality
from jaxgan.metrics.batching import in_batches
from jaxgan.metrics.run_scores import ScoringSet
from jaxgan.optim import run_optimizer
from jaxgan.recipes.base import (DIRECTION_HELP, Batch, Evaluator, GeneratorSpec, Metrics, Recipe, TrainState, init_net, model_options,
                                 new_state)

DIRECTIONS = ("AtoB", "BtoA")


def split_direction(batch: dict[str, Any], direction: str) -> tuple[Any, Any]:
    """``(input, target)`` of a paired batch for ``direction``."""
    return (batch["A"], batch["B"]) if direction == "AtoB" else (batch["B"], batch["A"])


class Pix2Pix(Recipe):
    option_ranges = {"model.dropout": (0.0, 0.99)}
    field_defaults = {"model.arch": "unet", "model.test_batch_stats": True, "model.input_skip": False,
                      "model.keep_luminance": False, "eval.figures": "paired"}
    evaluators = {"paired": Evaluator("paired_figures", needs=("A", "B"))}
    choice_help = {"direction": DIRECTION_HELP}
    needs_examples = True
    native_scale = True

    def __init__(self, config: ml_collections.ConfigDict):
        super().__init__(config)
        m, c = config.model, config.data.channels
        if config.direction not in DIRECTIONS:
            raise ConfigError(f"config.direction must be AtoB or BtoA, not {config.direction!r}")
        arch = m.arch
        multiple = models.image_to_image.size_multiple(m, arch)
        if config.image_size % multiple:
            raise ConfigError(f"config.image_size ({config.image_size}) must be a multiple of {multiple} for the "
                              f"{arch} generator" + (" (2**model.num_downs)" if arch == "unet" else ""))
        options = model_options(config)
        self.G = models.image_to_image.image_generator(m, c, arch, **options)
        self.D = models.PatchGAN(m.d_features, m.n_layers, m.norm, **options)
        self.g_opt = run_optimizer(config, "g")
        self.d_opt = run_optimizer(config, "d")
        self.loss, self.lambda_l1 = config.gan.loss, float(config.gan.lambda_l1)
        self.direction = config.direction
        self.test_batch_stats = bool(m.test_batch_stats)
        self.generator_spec = GeneratorSpec("image", c, size_multiple=multiple,
                                            choices={"direction": (self.direction,)})

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

    def train_step(self, state: TrainState, batch: Batch, frozen: dict[str, Any]) -> tuple[TrainState, Metrics]:
        g, d = state.nets["G"], state.nets["D"]
        source, target = split_direction(batch, self.direction)
        forward = adversarial.generator_forward(self.G, g, source, rngs={"dropout": state.step_rng()})
        d, metrics = adversarial.discriminator_update(
            self.D, d, self.d_opt, jnp.concatenate([source, target], -1),
            jnp.concatenate([source, forward.fake], -1), self.loss, scale=0.5)

        def g_loss(fake):
            adversarial_term = adversarial.adversarial_loss(self.D, d, jnp.concatenate([source, fake], -1), self.loss)
            l1 = losses.l1(fake, target)
            return adversarial_term + self.lambda_l1 * l1, {"g_adversarial": adversarial_term, "g_l1": l1}

        g, g_metrics = adversarial.generator_update(forward, g, self.g_opt, g_loss)
        return state.replace(nets={"G": g, "D": d}), {**metrics, **g_metrics}

    # ---------------------------------------------------------------------------------- generation
    def predict(self, variables: dict[str, Any], inputs: jax.Array, **choices: str) -> jax.Array:
        """G on ``inputs`` in its training direction (see the module doc for the test-time mode)."""
        g = variables["G"]
        if not self.test_batch_stats:
            return self.G.apply(g, inputs, train=False)
        key = jax.random.PRNGKey(self.config.seed)

        def one(image):
            out, _ = self.G.apply(g, image[None], train=True, rngs={"dropout": key}, mutable=["batch_stats"])
            return out[0]

        return jax.vmap(one)(inputs)

    def sample_inputs(self, rng: jax.Array, num: int, examples: dict[str, Any] | None = None) -> Any:
        """The first ``num`` example pairs (centre ``image_size`` crops of whole images)."""
        source, target = split_direction(examples, self.direction)
        crop = functools.partial(centre_crop, side=self.config.image_size)
        return {"source": np.stack([crop(x) for x in source[:num]]),
                "target": np.stack([crop(x) for x in target[:num]])}

    def sample_grid(self, variables: dict[str, Any], inputs: Any) -> jax.Array:
        """input | output | target, side by side."""
        out = self.predict(variables, inputs["source"])
        return jnp.concatenate([inputs["source"], out, inputs["target"]], axis=2)

    def paired_figures(self, variables: dict[str, Any], train: dict[str, Any],
                       held_out: dict[str, Any]) -> dict[str, float]:
        """L1, PSNR, SSIM and high-frequency ratio of G(input) against the target on the held-out pairs,
        next to the input's own (the baseline a translation must beat); the worst image's PSNR gain over
        its input (``held_out_worst_psnr_gain``); colourfulness of outputs and targets (desaturating
        everything lowers the first). Whole images (``data.resize=none``) run as infer.py runs them:
        reflect-padded to the U-Net's multiple, cropped back."""
        source, target = split_direction(held_out, self.direction)
        outputs = self.translate_all(variables, source)
        gains = [image_quality.psnr(o, t) - image_quality.psnr(s, t) for o, s, t in zip(outputs, source, target)]
        colour = {f"{name}_colourfulness": float(np.mean([image_quality.colourfulness((x + 1.0) * 127.5) for x in xs]))
                  for name, xs in (("held_out", outputs), ("target", target))} if outputs[0].shape[-1] == 3 else {}
        return {**image_quality.paired_scores(outputs, target, prefix="held_out_"),
                **image_quality.paired_scores(source, target, prefix="input_"),
                "held_out_worst_psnr_gain": float(min(gains)), **colour}

    def translate_all(self, variables: dict[str, Any], source: Any) -> Any:
        """G on every image of ``source``: an array, or a list of whole images of their own sizes (run as
        infer.py runs them: reflect-padded to the U-Net's multiple, cropped back)."""
        predict = jax.jit(self.predict)
        if isinstance(source, list):
            multiple = self.generator_spec.size_multiple
            return [np.asarray(predict(variables, pad_to_multiple(x, multiple)[None]))[0, :x.shape[0], :x.shape[1]]
                    for x in source]
        return in_batches(functools.partial(predict, variables), source, batch=16)

    def scoring_sets(self, variables: dict[str, Any], train: dict[str, Any] | None, held_out: dict[str, Any] | None,
                     num: int, seed: int) -> dict[str, ScoringSet]:
        """Held-out inputs translated, against the training targets."""
        if train is None or held_out is None:
            return {}
        source = split_direction(held_out, self.direction)[0][:num]
        return {"": ScoringSet(split_direction(train, self.direction)[1][:num],
                               lambda: self.translate_all(variables, source))}
