"""Single-image super-resolution by ``config.scale``: SRResNet / SRGAN (Ledig et al. 2017) and ESRGAN
(Wang et al. 2018), by the networks ``model.arch`` (``srresnet``, ``rrdb``, ``msrresnet``) and
``model.d_arch`` (``srgan``, ``vgg``) name and the losses below.

One run has two phases, both resumable at any step (the phase is a function of the step):

1. steps 1..``pretrain_steps``: G alone on the pixel loss ``pretrain_loss`` (``mse``; ESRGAN's PSNR-oriented
   ``l1``), at ``optim.pretrain``'s learning rate schedule (G's Adam moments then carry over into phase 2,
   at ``optim.g``'s schedule);
2. the remaining steps: one D update (real HR vs G(LR)) then one G update on ``content_weight`` x the
   content loss + ``pixel_weight`` x L1 + ``adversarial_weight`` x the adversarial loss
   (``adversarial_loss``: ``non_saturating``, or ESRGAN's ``relativistic_average``). ``content_loss``:
   ``mse`` or ``l1`` of pixels; ``vgg22`` / ``vgg54``, the MSE of VGG19 features after the ReLU; or
   ``vgg54_pre``, ESRGAN's L1 of features before it. VGG features are rescaled by 1/12.75 as in SRGAN,
   with weights read from ``config.vgg_weights`` (a Keras ``.h5`` file, trained on 0-255 BGR inputs where
   BasicSR's torchvision VGG sees normalised [0, 1] ones: the losses' scales differ; nothing is downloaded).

Inputs are HR crops (``hr``) and, for given pairs, LR crops (``lr``); otherwise the step makes the LR
input by antialiased bicubic downsampling, quantised to 8 bits like a saved LR image.
"""
from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxgan import adversarial, losses, models, tiling
from jaxgan.batch_translate import pad_to_multiple
from jaxgan.data import augment
from jaxgan.data.images import centre_crop
from jaxgan.data.pipeline import DataSpec
from jaxgan.errors import ConfigError
from jaxgan.metrics import image_quality
from jaxgan.metrics.run_scores import ScoringSet
from jaxgan.models import vgg
from jaxgan.optim import extensions_of, learning_rate, make_optimizer, run_optimizer
from jaxgan.recipes.base import (Batch, Evaluator, FrozenNetwork, GeneratorSpec, Metrics, Recipe, TrainState, Update, init_net,
                                 model_options, new_state)

CONTENT_LOSSES = ("mse", "l1", "vgg22", "vgg54", "vgg54_pre")
PIXEL_LOSSES = ("mse", "l1")
ADVERSARIAL_LOSSES = ("non_saturating", losses.RELATIVISTIC)
VGG_RESCALE = 1.0 / 12.75


def downscale(hr: jax.Array, scale: int) -> jax.Array:
    """[N, H, W, C] in [-1, 1] -> antialiased bicubic [N, H/scale, W/scale, C], rounded to 8-bit levels."""
    n, h, w, c = hr.shape
    lr = jax.image.resize(hr, (n, h // scale, w // scale, c), "bicubic", antialias=True)
    return jnp.round((jnp.clip(lr, -1.0, 1.0) + 1.0) * 127.5) / 127.5 - 1.0


def bicubic_upscale(lr: jax.Array, scale: int) -> jax.Array:
    """The baseline every SR result is compared with: bicubic upsampling, clipped to [-1, 1]."""
    n, h, w, c = lr.shape
    return jnp.clip(jax.image.resize(lr, (n, h * scale, w * scale, c), "bicubic"), -1.0, 1.0)


def _mse(a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.mean(jnp.square(a.astype(jnp.float32) - b.astype(jnp.float32)))


def pixel_loss(kind: str, a: jax.Array, b: jax.Array) -> jax.Array:
    """``mse`` or ``l1`` (mean absolute difference) of two image batches, in float32."""
    return _mse(a, b) if kind == "mse" else losses.l1(a.astype(jnp.float32), b.astype(jnp.float32))


class SRGAN(Recipe):
    needs_examples = True
    option_names = {"model.arch": models.super_resolution.G_ARCHS, "model.d_arch": models.super_resolution.D_ARCHS,
                    "model.d_norm": models.super_resolution.D_NORMS, "content_loss": CONTENT_LOSSES,
                    "pretrain_loss": PIXEL_LOSSES, "adversarial_loss": ADVERSARIAL_LOSSES}
    option_ranges = {"pixel_weight": (0.0, None), "content_weight": (0.0, None), "model.tile_margin": (0, None)}
    field_defaults = {"eval.figures": "restoration", "model.arch": "srresnet", "model.d_arch": "srgan",
                      "model.d_norm": "batch", "model.growth": 32, "model.tile_margin": 0, "pretrain_loss": "mse",
                      "adversarial_loss": "non_saturating", "pixel_weight": 0.0, "content_weight": 1.0}
    evaluators = {"restoration": Evaluator("restoration_figures", needs=("hr",))}

    def __init__(self, config: ml_collections.ConfigDict):
        super().__init__(config)
        m = config.model
        self.scale = int(config.scale)
        if config.image_size % self.scale:
            raise ConfigError(f"config.image_size ({config.image_size}) must be a multiple of config.scale "
                              f"({self.scale})")
        options = model_options(config)
        self.G = models.super_resolution.sr_generator(m, self.scale, **options)
        try:
            radius, multiple = self.G.receptive_radius(), self.G.size_multiple()
        except ValueError as e:
            raise ConfigError(f"config.scale: {e}") from None
        if config.image_size // self.scale % multiple:
            raise ConfigError(f"config.image_size / config.scale ({config.image_size // self.scale}) must be a multiple "
                              f"of {multiple} for this generator (its input is pixel-unshuffled by {multiple})")
        # the overlap of infer.py's tiles: the whole receptive radius (exact), or model.tile_margin if smaller
        self.receptive_radius = min(radius, m.tile_margin) if m.tile_margin else radius
        self.D = models.super_resolution.sr_discriminator(m, **options)
        self.pretrain_steps = int(config.pretrain_steps)
        if 0 < self.pretrain_steps < config.num_steps:
            self.milestones = (self.pretrain_steps,)         # the SRResNet checkpoint, kept for infer --step
        phases = [learning_rate(config.optim.pretrain, self.pretrain_steps),
                  learning_rate(config.optim.g, config.num_steps, self.pretrain_steps, extensions_of(config))]
        g_lr = optax.join_schedules([p if callable(p) else optax.constant_schedule(p) for p in phases],
                                    [self.pretrain_steps])
        self.g_opt = make_optimizer(config.optim.g, config.num_steps, g_lr)
        self.d_opt = run_optimizer(config, "d", first_step=self.pretrain_steps)
        self.content, self.adversarial_weight = config.content_loss, float(config.adversarial_weight)
        self.adversarial, self.pretrain_loss = config.adversarial_loss, config.pretrain_loss
        self.pixel_weight, self.content_weight = float(config.pixel_weight), float(config.content_weight)
        self.vgg = (vgg.VGG19Features(*vgg.LAYERS[self.content], conv_impl=options["conv_impl"])
                    if self.content in vgg.LAYERS else None)
        self.given_lr = config.data.layout == "lr_hr"
        self.generator_spec = GeneratorSpec("image", 3, size_multiple=multiple, scale=self.scale,
                                            tile_margin=self.receptive_radius, tile=int(config.tile))
        self._jit_predict = jax.jit(self.predict)

    # ----------------------------------------------------------------------------------- training
    def example_batch(self, rows: int = 1) -> dict[str, np.ndarray]:
        hr = self.config.image_size
        batch = {"hr": np.zeros((rows, hr, hr, 3), np.float32)}
        if self.given_lr:
            batch["lr"] = np.zeros((rows, hr // self.scale, hr // self.scale, 3), np.float32)
        return batch

    @property
    def data_spec(self) -> DataSpec:
        """Whole images (training and evaluation); a training example is an aligned random HR/LR crop under
        one of the 8 flips/rotations."""
        crop = functools.partial(augment.aligned_sr_crop, hr_size=self.config.image_size, scale=self.scale,
                                 augment=bool(self.config.data.random_flip))
        window = augment.sr_window(self.config.image_size, self.scale, self.given_lr)
        return DataSpec(tuple(self.example_batch()), 0, 0, crop, window)

    def lr_input(self, batch: Batch) -> jax.Array:
        return batch["lr"] if "lr" in batch else downscale(batch["hr"], self.scale)

    def init(self, rng: jax.Array, batch: Batch) -> TrainState:
        g_key, d_key, run_key = jax.random.split(rng, 3)
        return new_state(run_key, {"G": init_net(self.G, self.g_opt, g_key, self.lr_input(batch)[:1]),
                                   "D": init_net(self.D, self.d_opt, d_key, batch["hr"][:1])})

    def pretrain_step(self, state: TrainState, batch: Batch, frozen: dict[str, Any]) -> tuple[TrainState, Metrics]:
        """Phase 1: G on the pixel loss ``pretrain_loss``. Reports the same metrics as phase 2 (D's as zeros)."""
        g, hr = state.nets["G"], batch["hr"]

        def loss_fn(params):
            sr, stats = adversarial.apply_train(self.G, g, params, self.lr_input(batch))
            return pixel_loss(self.pretrain_loss, sr, hr), (stats, _mse(sr, hr))

        (loss, (stats, mse)), grads = jax.value_and_grad(loss_fn, has_aux=True)(g.params)
        g = adversarial.apply_grads(g, grads, self.g_opt, stats)
        zero = jnp.zeros((), jnp.float32)
        metrics = {"g_loss": loss, "g_content": loss, "g_adversarial": zero, "pixel_mse": mse,
                   "d_loss": zero, "d_real": zero, "d_fake": zero}
        return state.replace(nets={**state.nets, "G": g}), metrics

    def content_loss(self, sr: jax.Array, hr: jax.Array, vgg_variables: Any) -> jax.Array:
        if self.vgg is None:
            return pixel_loss(self.content, sr, hr)
        # Two passes, not one on the concatenated batch: the backward pass then covers only G's half.
        real = jax.lax.stop_gradient(self.vgg.apply(vgg_variables, hr.astype(sr.dtype)))
        criterion = "l1" if self.vgg.before_activation else "mse"        # ESRGAN's / SRGAN's
        return pixel_loss(criterion, self.vgg.apply(vgg_variables, sr) * VGG_RESCALE, real * VGG_RESCALE)

    def gan_step(self, state: TrainState, batch: Batch, frozen: dict[str, Any]) -> tuple[TrainState, Metrics]:
        """Phase 2: one D update, then one G update on content_weight x content + pixel_weight x L1 +
        adversarial_weight x adversarial."""
        g, d, hr = state.nets["G"], state.nets["D"], batch["hr"]
        forward = adversarial.generator_forward(self.G, g, self.lr_input(batch))
        d, metrics = adversarial.discriminator_update(self.D, d, self.d_opt, hr, forward.fake, self.adversarial)
        relative_to = hr if self.adversarial == losses.RELATIVISTIC else None

        def g_loss(sr):
            adversarial_term = adversarial.adversarial_loss(self.D, d, sr, self.adversarial, relative_to)
            content = self.content_loss(sr, hr, frozen.get("vgg"))
            total = self.content_weight * content + self.adversarial_weight * adversarial_term
            if self.pixel_weight:
                total = total + self.pixel_weight * pixel_loss("l1", sr, hr)
            return total, {"g_content": content, "g_adversarial": adversarial_term}

        g, g_metrics = adversarial.generator_update(forward, g, self.g_opt, g_loss)
        metrics.update(g_metrics, pixel_mse=_mse(forward.fake, hr))
        return state.replace(nets={"G": g, "D": d}), metrics

    def frozen_networks(self) -> dict[str, FrozenNetwork]:
        """VGG19 for a VGG content loss, when the run reaches phase 2; weights from ``config.vgg_weights``."""
        if self.vgg is None or self.config.num_steps <= self.pretrain_steps:
            return {}
        if not self.config.vgg_weights:
            raise ConfigError(f"content_loss={self.content} needs VGG19 weights: pass "
                              f"--config.vgg_weights=/path/to/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 "
                              f"(see the README), or use --config.content_loss=mse")
        return {"vgg": FrozenNetwork(self.vgg, lambda: vgg.load_vgg19_h5(self.config.vgg_weights, self.vgg.layer))}

    def update(self, step_number: int) -> Update:
        """Phase 1 (the pixel MSE) up to ``pretrain_steps``, then phase 2 (the GAN)."""
        return self.gan_step if step_number > self.pretrain_steps else self.pretrain_step

    # ---------------------------------------------------------------------------------- generation
    def predict(self, variables: dict[str, Any], inputs: jax.Array, **choices: str) -> jax.Array:
        """LR images -> super-resolved images, clipped to [-1, 1]."""
        return jnp.clip(self.G.apply(variables["G"], inputs, train=False), -1.0, 1.0)

    def upscale(self, variables: dict[str, Any], image: np.ndarray, tile: int | None = None,
                batch: int = 4) -> np.ndarray:
        """One LR image [H, W, 3] in [-1, 1] -> [scale*H, scale*W, 3], in overlapping tiles of ``tile``
        LR pixels (default ``config.tile``) with the network's receptive radius as margin (image and tiles
        padded and aligned to the generator's size multiple)."""
        multiple = self.generator_spec.size_multiple
        tile = tile or self.config.tile
        out = tiling.upscale_tiled(lambda x: self._jit_predict(variables, x), pad_to_multiple(image, multiple),
                                   self.scale, tile - tile % multiple, self.receptive_radius, batch)
        return out[:self.scale * image.shape[0], :self.scale * image.shape[1]]

    def sample_inputs(self, rng: jax.Array, num: int, examples: dict[str, Any] | None = None) -> Any:
        """Centre crops (``image_size`` HR) of the first ``num`` example images."""
        hr_side, lr_side = self.config.image_size, self.config.image_size // self.scale
        inputs = {"hr": np.stack([centre_crop(x, hr_side) for x in examples["hr"][:num]])}
        if "lr" in examples:
            inputs["lr"] = np.stack([centre_crop(x, lr_side) for x in examples["lr"][:num]])
        return inputs

    def sample_grid(self, variables: dict[str, Any], inputs: Any) -> jax.Array:
        """bicubic | super-resolved | HR, side by side."""
        lr = self.lr_input(inputs)
        return jnp.concatenate([bicubic_upscale(lr, self.scale), self.predict(variables, lr), inputs["hr"]],
                               axis=2)

    def restoration_figures(self, variables: dict[str, Any], train: dict[str, Any],
                            held_out: dict[str, Any]) -> dict[str, float]:
        """PSNR / SSIM on the Y channel with ``scale`` border pixels cropped, for G and for bicubic,
        on the whole held-out images (cut to a multiple of ``scale``), and G's PSNR gain over bicubic."""
        s = self.scale
        targets, inputs = self.held_out_pairs(held_out)
        outputs = [self.upscale(variables, lr) for lr in inputs]
        baseline = [np.asarray(bicubic_upscale(lr[None], s))[0] for lr in inputs]
        ours = image_quality.paired_scores(outputs, targets, "held_out_", y_channel=True, border=s)
        bicubic = image_quality.paired_scores(baseline, targets, "bicubic_", y_channel=True, border=s)
        return {**ours, **bicubic, "held_out_psnr_gain": ours["held_out_psnr"] - bicubic["bicubic_psnr"]}

    def held_out_pairs(self, held_out: dict[str, Any]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """``(HR images cut to a multiple of scale, their LR inputs)``: the given LR images, or the HR
        images downscaled as in training."""
        s = self.scale
        targets, inputs = [], []
        for i, hr in enumerate(held_out["hr"]):
            h, w = hr.shape[0] // s * s, hr.shape[1] // s * s
            targets.append(hr[:h, :w])
            inputs.append(held_out["lr"][i][:h // s, :w // s] if "lr" in held_out
                          else np.asarray(downscale(hr[None, :h, :w], s))[0])
        return targets, inputs

    def scoring_sets(self, variables: dict[str, Any], train: dict[str, Any] | None, held_out: dict[str, Any] | None,
                     num: int, seed: int) -> dict[str, ScoringSet]:
        """The held-out images super-resolved (whole, tiled as infer.py runs them), against the training
        HR images."""
        if train is None or held_out is None:
            return {}
        inputs = self.held_out_pairs(held_out)[1][:num]
        return {"": ScoringSet(list(train["hr"][:num]), lambda: [self.upscale(variables, lr) for lr in inputs])}
