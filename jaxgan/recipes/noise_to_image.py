"""The unconditional GAN family: GAN, DCGAN, WGAN (weight clipping) and WGAN-GP, one training algorithm.

One `train_step` = ``n_critic`` discriminator (critic) updates, each on its own real batch and fresh
noise, then one generator update. The config picks the networks (``model.arch``: mlp | dcgan), the
adversarial loss (``gan.loss``), ``gan.n_critic``, the gradient-penalty weight (``gan.gp_weight``) and
the critic's weight clipping (``optim.d.weight_clip``) and the augmentation of every image D sees
(``gan.augment``: DiffAugment, see `jaxgan.diff_augment`) and G's latent prior (``model.latent_components``:
`jaxgan.models.latent_prior`). With ``n_critic == 1`` the generator's update
reuses the fakes of the discriminator's update (one G forward pass per step, as PyTorch's DCGAN does).
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxgan import adversarial, diff_augment, losses, models
from jaxgan.errors import ConfigError
from jaxgan.metrics import classifier_eval
from jaxgan.metrics.run_scores import ScoringSet
from jaxgan.optim import run_optimizer
from jaxgan.parallel import constrain_batch
from jaxgan.recipes.base import (Batch, Evaluator, GeneratorSpec, Metrics, NetState, Recipe, TrainState, init_net,
                                 model_options, new_state)

ARCHS = ("mlp", "dcgan")


def build_networks(config: ml_collections.ConfigDict) -> tuple[nn.Module, nn.Module]:
    """The generator and discriminator named by ``config.model.arch``."""
    m, size, channels = config.model, config.image_size, config.data.channels
    options = model_options(config)
    categories = int(config.gan.info_categories)
    prior = {"latent_components": int(m.latent_components), "latent_component_std": float(m.latent_component_std)}
    models.latent_prior.check(prior["latent_components"], prior["latent_component_std"])
    if categories and prior["latent_components"]:
        raise ConfigError("gan.info_categories and model.latent_components both give the noise a structure; "
                          "set one of them to 0")
    if m.arch == "mlp":
        if categories:
            raise ConfigError("gan.info_categories needs model.arch=dcgan")
        dtype = options["dtype"]
        return (models.MLPGenerator(size, channels, tuple(m.g_hidden), dtype=dtype, **prior),
                models.MLPDiscriminator(tuple(m.d_hidden), dtype=dtype))
    if m.arch == "dcgan":
        models.dcgan.check_image_size(size)
        return (models.DCGANGenerator(size, channels, m.g_features, categories=categories, **prior, **options),
                models.DCGANDiscriminator(m.d_features, m.d_norm, categories=categories, **options))
    raise ConfigError(f"unknown model.arch {m.arch!r}; choose one of {', '.join(ARCHS)}")


class NoiseToImage(Recipe):
    """GAN / DCGAN / WGAN / WGAN-GP."""
    option_ranges = {"gan.n_critic": (1, None), "gan.gp_weight": (0.0, None), "gan.r1_gamma": (0.0, None),
                     "gan.info_categories": (0, None), "gan.info_weight": (0.0, None),
                     "model.latent_components": (0, None), "model.latent_component_std": (0.0, 1.0)}
    field_defaults = {"gan.augment": "", "gan.info_categories": 0, "gan.info_weight": 1.0,
                      "model.latent_components": 0, "model.latent_component_std": 0.3, "eval.figures": "classifier"}
    evaluators = {"classifier": Evaluator("classifier_figures", needs=("label",))}

    def __init__(self, config: ml_collections.ConfigDict):
        super().__init__(config)
        self.G, self.D = build_networks(config)
        self.g_opt = run_optimizer(config, "g")
        self.n_critic = int(config.gan.n_critic)
        self.d_opt = run_optimizer(config, "d", updates_per_step=self.n_critic)
        self.loss = config.gan.loss
        self.gp_weight = float(config.gan.gp_weight)
        self.r1_gamma = float(config.gan.get("r1_gamma", 0.0))
        self.augment_policy = diff_augment.parse(config.gan.augment)
        self.latent_dim = int(config.model.latent_dim)
        self.categories = int(config.gan.info_categories)
        self.info_weight = float(config.gan.info_weight)
        if self.categories > self.latent_dim:
            raise ConfigError(f"gan.info_categories={self.categories} exceeds model.latent_dim={self.latent_dim}")
        self.examples_per_row = self.n_critic
        self.generator_spec = GeneratorSpec("noise", config.data.channels, latent_dim=self.latent_dim)

    # ----------------------------------------------------------------------------------------- state
    def init(self, rng: jax.Array, batch: Batch) -> TrainState:
        g_key, d_key, run_key = jax.random.split(rng, 3)
        z = jnp.zeros((1, self.latent_dim))
        image = self._real_batches(batch)[0][:1]
        return new_state(run_key, {"G": init_net(self.G, self.g_opt, g_key, z),
                                   "D": init_net(self.D, self.d_opt, d_key, image)})

    def _real_batches(self, batch: Batch) -> jax.Array:
        """``[n_critic, B, H, W, C]`` real images, one batch per critic update."""
        images = batch["image"]
        if self.n_critic == 1:
            return images[None]
        return jnp.swapaxes(images, 0, 1)

    # ------------------------------------------------------------------------------------------ step
    def _noise(self, rng: jax.Array, n: int) -> jax.Array:
        return constrain_batch(jax.random.normal(rng, (n, self.latent_dim)))

    def _augment(self, images: jax.Array, rng: jax.Array, stream: int) -> jax.Array:
        """``images`` as D sees them: augmented with the key ``rng`` folded with ``stream`` (real 0, fake
        1, G's update 2), or unchanged without ``gan.augment`` (the other random streams then stay as they
        were without augmentation)."""
        if not self.augment_policy:
            return images
        return diff_augment.augment(images, jax.random.fold_in(rng, stream), self.augment_policy)

    def _info_loss(self, code_logits: jax.Array, z: jax.Array) -> tuple[jax.Array, Metrics]:
        """InfoGAN's lower bound on the mutual information of the categorical code and the image, as a
        loss: ``info_weight`` x the cross-entropy of D's code head against the code z carried."""
        code = models.dcgan.categorical_code(z, self.categories)
        info = optax.softmax_cross_entropy_with_integer_labels(code_logits, code).mean()
        return self.info_weight * info, {"info_loss": info,
                                         "info_accuracy": jnp.mean(jnp.argmax(code_logits, -1) == code)}

    def _critic_update(self, d: NetState, real: jax.Array, fake: jax.Array, z: jax.Array, rng: jax.Array
                       ) -> tuple[NetState, Metrics]:
        real, fake = self._augment(real, rng, 0), self._augment(fake, rng, 1)
        info = (lambda code_logits: self._info_loss(code_logits, z)) if self.categories else None
        return adversarial.discriminator_update(self.D, d, self.d_opt, real, fake, self.loss,
                                                gp_weight=self.gp_weight, r1_gamma=self.r1_gamma, rng=rng,
                                                fake_aux_loss=info)

    def _generator_loss(self, d: NetState, fake: jax.Array, z: jax.Array, rng: jax.Array
                        ) -> tuple[jax.Array, Metrics]:
        out = adversarial.apply_train(self.D, d, d.params, self._augment(fake, rng, 2))[0]
        loss = losses.generator_loss(self.loss, adversarial.critic_output(out))
        if not self.categories:
            return loss, {}
        info, metrics = self._info_loss(out[1], z)
        return loss + info, {"g_info_loss": metrics["info_loss"]}

    def train_step(self, state: TrainState, batch: Batch, frozen: dict[str, Any]) -> tuple[TrainState, Metrics]:
        g, d = state.nets["G"], state.nets["D"]
        reals = self._real_batches(batch)
        n = reals.shape[1]
        key_g, key_d = jax.random.split(state.step_rng())
        z = self._noise(key_g, n)
        forward = adversarial.generator_forward(self.G, g, z)
        if self.n_critic == 1:
            d, metrics = self._critic_update(d, reals[0], forward.fake, z, key_d)
        else:
            def critic_iteration(d, inputs):
                real, key = inputs
                k_z, k_gp = jax.random.split(key)
                z_critic = self._noise(k_z, n)
                fake = adversarial.apply_train(self.G, g, g.params, z_critic)[0]
                return self._critic_update(d, real, fake, z_critic, k_gp)

            d, metrics = adversarial.critic_loop(critic_iteration, d,
                                                 (reals, jax.random.split(key_d, self.n_critic)))

        # Generator update against the updated discriminator.
        g, g_metrics = adversarial.generator_update(forward, g, self.g_opt,
                                                    lambda fake: self._generator_loss(d, fake, z, key_g))
        metrics = dict(metrics, **g_metrics)
        if self.loss == "wasserstein":
            metrics["wasserstein_estimate"] = metrics["d_real"] - metrics["d_fake"]
        return state.replace(nets={"G": g, "D": d}), metrics

    # ---------------------------------------------------------------------------------- generation
    def predict(self, variables: dict[str, Any], inputs: jax.Array, **choices: str) -> jax.Array:
        return self.G.apply(variables["G"], inputs, train=False)

    def sample_inputs(self, rng: jax.Array, num: int, examples: dict[str, Any] | None = None) -> jax.Array:
        return jax.random.normal(rng, (num, self.latent_dim))

    def sample(self, variables: dict[str, Any], num: int, seed: int, batch: int = 256) -> np.ndarray:
        """``num`` generated images (numpy, [-1, 1]), in fixed-size batches (one compilation)."""
        generate = jax.jit(self.predict)
        out = [np.asarray(generate(variables, self.sample_inputs(jax.random.PRNGKey(seed + i), batch)))
               for i in range(0, num, batch)]
        return np.concatenate(out)[:num]

    def classifier_figures(self, variables: dict[str, Any], train: dict[str, Any],
                           held_out: dict[str, Any]) -> dict[str, float]:
        """Frechet distance in a classifier's feature space and the spread of its predicted classes
        (`metrics.classifier_eval`)."""
        seed = int(self.config.seed)
        return classifier_eval.evaluate(lambda n: self.sample(variables, n, seed + 2), train, held_out, seed)

    def scoring_sets(self, variables: dict[str, Any], train: dict[str, Any] | None, held_out: dict[str, Any] | None,
                     num: int, seed: int) -> dict[str, ScoringSet]:
        """Samples against as many training images."""
        if train is None:
            return {}
        real = train["image"][:num]
        return {"": ScoringSet(real, lambda: self.sample(variables, len(real), seed))}
