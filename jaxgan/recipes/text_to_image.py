"""The text-to-image GAN, GAN-CLS + GAN-INT (Reed et al. 2016): captions in, images out.

One step, one compiled function: each example's caption is drawn among its captions, and every example
gets a mismatched caption from another example (the batch's captions rolled by a random shift in
[1, B-1]: never its own). The discriminator scores (real image, matching text) as real and (real image,
mismatched text) and (fake image, matching text) as fake, weights 1, 1/2, 1/2 (GAN-CLS). The generator
is trained to make D score (fake, matching text) real and, GAN-INT, also images generated from the
interpolation ``beta * t1 + (1 - beta) * t2`` of two captions' embeddings (beta = 1/2, weight
``gan.interpolation_weight``; 0 gives plain GAN-CLS).

Where we add to the paper (0 turns each off, giving the paper):

- ``gan.diversity_weight`` > 0 adds the mode-seeking term of Mao et al. 2019 (MSGAN),
  ``1 / (mean|G(z1, t) - G(z2, t)| / mean|z1 - z2| + 1e-5)``, on a third G pass with the same captions
  and other noise. Without it the generator learns to ignore z (one image per caption: the batch is
  diverse through its captions, so batch norm in D cannot see the collapse).
- ``gan.contrastive_weight`` > 0 adds XMC-GAN's image-sentence contrastive loss (Zhang et al. 2021):
  D's body also gives each image a unit code and each caption embedding one
  (`MatchingAwareDiscriminator`'s ``contrastive_dim``), and `contrastive_loss` asks each real image to
  pick its own caption among the batch's (D and the text encoder learn from it) and each fake to pick
  the caption it was drawn from (G learns from it). ``gan.image_contrastive_weight`` > 0 also asks each
  fake's code to pick its real image (the one whose caption it was drawn from) among the batch's, in
  codes of real images taken without gradient. These are what make a prompt draw its digit: GAN-CLS's
  one matching logit alone lets G settle for the colour.

Text: ``model.text_encoder=words`` embeds word ids with our `TextEncoder`, trained by the discriminator's
loss (telling matching from mismatched captions is what teaches it to tell captions apart); G reads its
embeddings without sending gradients back. ``fixed`` reads pre-computed sentence embeddings
(``data.embeddings``, the released birds/flowers layout) instead.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan import adversarial, losses, text
from jaxgan.data.registry import vocabulary
from jaxgan.errors import ConfigError
from jaxgan.metrics import caption_eval
from jaxgan.metrics.batching import in_batches
from jaxgan.metrics.run_scores import ScoringSet
from jaxgan.models.dcgan import check_image_size
from jaxgan.models.text_to_image import (MatchingAwareDiscriminator, TextEncoder, TextToImageGenerator,
                                         contrastive_loss)
from jaxgan.optim import run_optimizer
from jaxgan.parallel import constrain_batch
from jaxgan.recipes.base import (Batch, Evaluator, GeneratorSpec, Metrics, NetState, Recipe, TrainState,
                                 figure_names, init_net, model_options, new_state)

TEXT_ENCODERS = ("words", "fixed")


def mismatched(rng: jax.Array, n: int) -> jax.Array:
    """For each of ``n`` examples, the index of another one: ``(i + shift) mod n``, one random shift in
    [1, n-1] per call (so never ``i`` itself, for n >= 2)."""
    shift = jax.random.randint(rng, (), 1, max(n, 2))
    return (jnp.arange(n) + shift) % n


class TextToImage(Recipe):
    option_names = {"model.text_encoder": TEXT_ENCODERS}
    option_ranges = {"gan.interpolation_weight": (0.0, None), "gan.interpolation_beta": (0.0, 1.0),
                     "gan.diversity_weight": (0.0, None), "gan.contrastive_weight": (0.0, None),
                     "gan.contrastive_temperature": (1e-3, None), "gan.image_contrastive_weight": (0.0, None),
                     "model.contrastive_dim": (1, None), "model.text_dim": (1, None), "model.encoder_window": (1, None),
                     "data.max_words": (1, None), "data.max_captions": (1, None), "data.vocabulary_size": (1, None)}
    field_defaults = {"gan.contrastive_weight": 0.0, "gan.contrastive_temperature": 0.1,
                      "gan.image_contrastive_weight": 0.0, "model.encoder_window": 3, "eval.figures": "captions"}
    evaluators = {"captions": Evaluator("caption_figures", needs=("digit", "colour"))}
    needs_examples = True                     # sample grids show held-out captions

    def __init__(self, config: ml_collections.ConfigDict):
        super().__init__(config)
        m, g = config.model, config.gan
        check_image_size(config.image_size)
        self.fixed = m.text_encoder == "fixed"
        if self.fixed and "captions" in figure_names(config):
            raise ConfigError("config.eval.figures=captions prompts the generator in words, and "
                              "model.text_encoder=fixed has none: set --config.eval.figures=''")
        self.text_field = "embedding" if self.fixed else "caption"
        self.label_fields = (self.text_field, "caption_count")
        self.vocabulary = () if self.fixed else vocabulary(config)
        self.max_words, self.max_captions = int(config.data.max_words), int(config.data.max_captions)
        self.text_dim = int(m.text_dim)
        options = model_options(config)
        self.latent_dim = int(m.latent_dim)
        self.G = TextToImageGenerator(config.image_size, config.data.channels, m.g_features, m.projection, **options)
        self.contrastive_weight, self.temperature = float(g.contrastive_weight), float(g.contrastive_temperature)
        self.image_contrastive_weight = float(g.image_contrastive_weight) if self.contrastive_weight else 0.0
        self.D = MatchingAwareDiscriminator(m.d_features, m.projection, m.d_norm,
                                            contrastive_dim=int(m.contrastive_dim) if self.contrastive_weight else 0,
                                            **options)
        self.T = None if self.fixed else TextEncoder(len(self.vocabulary), self.text_dim, m.encoder_width,
                                                     int(m.encoder_window))
        self.loss = g.loss
        self.beta, self.interpolation_weight = float(g.interpolation_beta), float(g.interpolation_weight)
        self.diversity_weight = float(g.diversity_weight)
        self.g_opt, self.d_opt = run_optimizer(config, "g"), run_optimizer(config, "d")
        self.t_opt = None if self.fixed else run_optimizer(config, "t")
        self.auxiliary_names = () if self.fixed else ("T",)
        self.generator_spec = GeneratorSpec("text", config.data.channels, latent_dim=self.latent_dim)

    # ------------------------------------------------------------------------------------- state
    def example_batch(self, rows: int = 1) -> dict[str, np.ndarray]:
        batch = super().example_batch(rows)
        if self.fixed:
            texts = np.zeros((rows, self.max_captions, self.text_dim), np.float32)
        else:
            texts = np.zeros((rows, self.max_captions, self.max_words), np.int32)
        return {**batch, self.text_field: texts, "caption_count": np.ones((rows,), np.int32)}

    def init(self, rng: jax.Array, batch: Batch) -> TrainState:
        g_key, d_key, t_key, run_key = jax.random.split(rng, 4)
        image, words = batch["image"][:1], batch[self.text_field][:1, 0]
        embedding = jnp.zeros((1, self.text_dim))
        nets = {"G": init_net(self.G, self.g_opt, g_key, jnp.zeros((1, self.latent_dim)), embedding),
                "D": init_net(self.D, self.d_opt, d_key, image, embedding)}
        if not self.fixed:
            nets["T"] = init_net(self.T, self.t_opt, t_key, words)
        return new_state(run_key, nets)

    # ------------------------------------------------------------------------------------ updates
    def embed(self, t_params: Any, texts: jax.Array) -> jax.Array:
        """Sentence embeddings of word ids (or the fixed embeddings themselves)."""
        return texts if self.fixed else self.T.apply({"params": t_params}, texts)

    @staticmethod
    def draw_captions(rng: jax.Array, texts: jax.Array, count: jax.Array) -> jax.Array:
        """One of each example's ``count`` captions ``texts`` [B, K, ...], uniformly."""
        index = jnp.floor(jax.random.uniform(rng, count.shape) * jnp.maximum(count, 1)).astype(jnp.int32)
        return jnp.take_along_axis(texts, index.reshape((-1, 1) + (1,) * (texts.ndim - 2)), axis=1)[:, 0]

    def discriminator_update(self, d: NetState, t: NetState | None, images: jax.Array, texts: jax.Array,
                              wrong: jax.Array, fake: jax.Array) -> tuple[NetState, NetState | None, Metrics]:
        """D (and the text encoder) on the three GAN-CLS pairs, batch statistics threaded through them
        (PyTorch's three forward calls); the two real pairs share one pass of D's body."""
        fake = jax.lax.stop_gradient(fake)

        def loss_fn(params):
            d_params, t_params = params
            embedding = self.embed(t_params, texts)
            out, stats = adversarial.apply_train(self.D, d, d_params, images, (embedding, embedding[wrong]))
            (real, mismatch), codes = self._logits_and_codes(out)
            out, stats = adversarial.apply_train(self.D, d, d_params, fake, embedding, batch_stats=stats)
            faked = self._logits_and_codes(out)[0]
            loss = losses.matching_aware_discriminator_loss(self.loss, real, mismatch, faked)
            metrics = {"d_real": losses.discriminator_output(self.loss, real),
                       "d_mismatch": losses.discriminator_output(self.loss, mismatch),
                       "d_fake": losses.discriminator_output(self.loss, faked)}
            if codes is not None:
                metrics["d_contrastive"] = contrastive_loss(*codes, self.temperature)
                loss = loss + self.contrastive_weight * metrics["d_contrastive"]
            return loss, (dict(metrics, d_loss=loss), stats)

        params = (d.params, None if t is None else t.params)
        (d_grads, t_grads), (metrics, stats) = jax.grad(loss_fn, has_aux=True)(params)
        d = adversarial.apply_grads(d, d_grads, self.d_opt, stats)
        if t is not None:
            t = adversarial.apply_grads(t, t_grads, self.t_opt)
        return d, t, metrics

    def _generator_update(self, g: NetState, d: NetState, forward: adversarial.GeneratorPass, embedding: jax.Array,
                          wrong: jax.Array, z: jax.Array, z_first: jax.Array, z_other: jax.Array,
                          images: jax.Array) -> tuple[NetState, Metrics]:
        """G's update: the fakes of ``forward`` (noise ``z_first``, matching text), with their contrastive
        terms (against the captions, and against the codes of the real ``images`` taken without gradient);
        GAN-INT, a second pass on noise ``z`` and interpolated embeddings; the diversity term, a third on
        ``z_other`` and matching text. The gradient is the direct one plus the one through the saved pass."""
        real_codes = None
        if self.image_contrastive_weight:
            real_codes = jax.lax.stop_gradient(self._logits_and_codes(
                adversarial.apply_train(self.D, d, d.params, images, embedding)[0])[1][0])

        def loss_fn(params, fake):
            logits, codes = self._logits_and_codes(adversarial.apply_train(self.D, d, d.params, fake, embedding)[0])
            adversarial_term = losses.generator_loss(self.loss, logits)
            terms, stats = {"g_adversarial": adversarial_term}, forward.batch_stats
            loss = adversarial_term
            if codes is not None:
                terms["g_contrastive"] = contrastive_loss(*codes, self.temperature)
                loss = loss + self.contrastive_weight * terms["g_contrastive"]
            if real_codes is not None:
                terms["g_image_contrastive"] = contrastive_loss(codes[0], real_codes, self.temperature)
                loss = loss + self.image_contrastive_weight * terms["g_image_contrastive"]
            if self.interpolation_weight:
                mixed = self.beta * embedding + (1.0 - self.beta) * embedding[wrong]
                between, stats = adversarial.apply_train(self.G, g, params, z, mixed, batch_stats=stats)
                terms["g_interpolated"] = losses.generator_loss(self.loss, self._logits_and_codes(
                    adversarial.apply_train(self.D, d, d.params, between, mixed)[0])[0])
                loss = loss + self.interpolation_weight * terms["g_interpolated"]
            if self.diversity_weight:
                other, stats = adversarial.apply_train(self.G, g, params, z_other, embedding, batch_stats=stats)
                terms["diversity"] = jnp.mean(jnp.abs(other - fake)) / jnp.mean(jnp.abs(z_other - z_first))
                loss = loss + self.diversity_weight / (terms["diversity"] + 1e-5)
            return loss, (dict(terms, g_loss=loss), stats)

        (direct, through_fake), (metrics, stats) = jax.grad(loss_fn, argnums=(0, 1), has_aux=True)(g.params,
                                                                                                  forward.fake)
        grads = jax.tree.map(jnp.add, direct, forward.vjp(through_fake)[0])
        return adversarial.apply_grads(g, grads, self.g_opt, stats), metrics

    def _logits_and_codes(self, out: Any) -> tuple[Any, tuple[jax.Array, jax.Array] | None]:
        """D's logits, and its (image, text) contrastive codes where the contrastive term is on."""
        return (out[0], out[1:]) if self.contrastive_weight else (out, None)

    def train_step(self, state: TrainState, batch: Batch, frozen: dict[str, Any]) -> tuple[TrainState, Metrics]:
        g, d, t = state.nets["G"], state.nets["D"], state.nets.get("T")
        images = batch["image"]
        n = images.shape[0]
        pick_key, wrong_key, z_key, between_key, other_key = jax.random.split(state.step_rng(), 5)
        texts = self.draw_captions(pick_key, batch[self.text_field], batch["caption_count"])
        wrong = mismatched(wrong_key, n)
        embedding = jax.lax.stop_gradient(self.embed(None if t is None else t.params, texts))
        z = self._noise(z_key, n)
        forward = adversarial.generator_forward(self.G, g, z, embedding)
        d, t, metrics = self.discriminator_update(d, t, images, texts, wrong, forward.fake)
        g, g_metrics = self._generator_update(g, d, forward, embedding, wrong, self._noise(between_key, n), z,
                                              self._noise(other_key, n), images)
        nets = {"G": g, "D": d, **({} if t is None else {"T": t})}
        return state.replace(nets=nets), dict(metrics, **g_metrics)

    def _noise(self, rng: jax.Array, n: int) -> jax.Array:
        return constrain_batch(jax.random.normal(rng, (n, self.latent_dim)))

    # --------------------------------------------------------------------------------- generation
    def encode_prompts(self, prompts: list[str]) -> np.ndarray:
        """Word ids [len(prompts), max_words] of free-text prompts (unknown words dropped: see
        `text.unknown_words`)."""
        if self.fixed:
            raise ConfigError("this run was trained on fixed sentence embeddings; it has no text encoder to read "
                              "prompts")
        return text.encode(prompts, self.vocabulary, self.max_words)

    def predict(self, variables: dict[str, Any], inputs: dict[str, jax.Array], **choices: str) -> jax.Array:
        """``inputs``: ``noise`` [B, latent] and ``text`` (word ids [B, L], or fixed embeddings [B, E])."""
        embedding = self.embed(variables["T"]["params"] if not self.fixed else None, inputs["text"])
        return self.G.apply(variables["G"], inputs["noise"], embedding, train=False)

    def sample_inputs(self, rng: jax.Array, num: int, examples: dict[str, Any] | None = None) -> Any:
        """A square grid: each row but the last one caption of a held-out example (its first), one noise
        per column; the last row walks from the first row's caption embedding to the last row's (GAN-INT),
        at fixed noise."""
        side = max(2, int(np.sqrt(num)))
        texts = np.asarray(examples[self.text_field])[:, 0]
        texts = texts[np.sort(np.unique(texts.reshape(len(texts), -1), axis=0, return_index=True)[1])]  # distinct
        rows = np.resize(np.arange(len(texts)), side - 1)
        noise = jax.random.normal(rng, (side, self.latent_dim))
        return {"noise": jnp.tile(noise, (side - 1, 1)), "text": jnp.repeat(texts[rows], side, axis=0),
                "walk_noise": jnp.broadcast_to(noise[0], (side, self.latent_dim)), "walk_text": texts[rows[[0, -1]]]}

    def sample_grid(self, variables: dict[str, Any], inputs: Any) -> jax.Array:
        images = self.predict(variables, inputs)
        t_params = None if self.fixed else variables["T"]["params"]
        ends = self.embed(t_params, inputs["walk_text"])
        weights = jnp.linspace(0.0, 1.0, inputs["walk_noise"].shape[0])[:, None]
        walk = (1.0 - weights) * ends[0] + weights * ends[1]
        between = self.G.apply(variables["G"], inputs["walk_noise"], walk, train=False)
        return jnp.concatenate([images, between])

    def caption_figures(self, variables: dict[str, Any], train: dict[str, Any],
                        held_out: dict[str, Any]) -> dict[str, float]:
        """Caption agreement on the embedded coloured digits (`metrics.caption_eval`): prompts in
        phrasings of its own, read by the run's word encoder."""
        generate = jax.jit(self.predict)

        def images_for(prompts: list[str], seed: int) -> np.ndarray:
            ids = self.encode_prompts(prompts)
            noise = jax.random.normal(jax.random.PRNGKey(seed), (len(prompts), self.latent_dim))
            return np.asarray(generate(variables, {"noise": noise, "text": ids}))

        return caption_eval.evaluate(images_for, train, held_out, int(self.config.seed))

    def scoring_sets(self, variables: dict[str, Any], train: dict[str, Any] | None, held_out: dict[str, Any] | None,
                     num: int, seed: int) -> dict[str, ScoringSet]:
        """One sample for each of up to ``num`` training images' first captions, against those images."""
        if train is None:
            return {}
        real, texts = train["image"][:num], np.asarray(train[self.text_field][:num, 0])
        generate = jax.jit(self.predict)

        noise = np.asarray(jax.random.normal(jax.random.PRNGKey(seed), (len(real), self.latent_dim)))

        def samples() -> np.ndarray:
            return in_batches(lambda z, t: generate(variables, {"noise": z, "text": t}), noise, texts)

        return {"": ScoringSet(real, samples)}
