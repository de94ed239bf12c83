"""StarGAN (Choi et al. 2018): one generator translates an image into any of several domains, named by a
label tiled into its input; one critic judges real vs fake patches and classifies the domain.

One step = ``n_critic`` critic updates, each on its own real batch (WGAN-GP adversarial loss + lambda_gp x
gradient penalty + lambda_cls x domain classification of the real images), then one generator update on
the last batch: adversarial + lambda_cls x classification of its fakes as their targets + lambda_rec x
L1 of the reconstruction ``G(G(x, target), own)`` to ``x``, all in one compiled function (the shared
critic loop; the last critic update and the generator update share one G pass). Targets are the batch's own labels, shuffled (the paper's code), with each exclusive group
(CelebA's hair colours) kept to at most one attribute. Labels are one-hot (``data.layout=domains``: one
domain per image, softmax classification) or multi-hot (``attributes``: binary cross-entropy).

Where we differ from the reference code: the learning rates decay linearly to 0 over the second half of
the run, as the paper says (the code's per-1000-iteration decrement is 1e-5 of the rate, i.e. none);
instance norm always normalises by the image's own statistics (the code keeps running averages it never
uses, as it never switches to eval mode); D's convolutions start with zero biases.
"""
from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan import adversarial, losses, models
from jaxgan.data import domain_names
from jaxgan.data.registry import layout_of
from jaxgan.errors import ConfigError
from jaxgan.metrics import domain_eval
from jaxgan.metrics.batching import in_batches
from jaxgan.metrics.run_scores import ScoringSet
from jaxgan.nn import Conv
from jaxgan.optim import run_optimizer
from jaxgan.recipes.base import (Batch, Evaluator, GeneratorSpec, Metrics, NetState, Recipe, TrainState,
                                 figure_names, init_net, model_options, new_state)


class StarGAN(Recipe):
    option_ranges = {"gan.n_critic": (1, None), "gan.gp_weight": (0.0, None), "gan.lambda_cls": (0.0, None),
                     "gan.lambda_rec": (0.0, None), "model.d_layers": (1, None)}
    field_defaults = {"data.exclusive": (), "eval.figures": "domains"}
    evaluators = {"domains": Evaluator("domain_figures", needs=("domain",)),
                  "content": Evaluator("content_figures", needs=("content",))}
    choice_help = {"target": "Target domain (StarGAN): a domain name, or all (each domain into OUTPUT/<domain>/). "
                             "Attribute models (CelebA): a comma-separated list of attributes to switch on (NAME=0 "
                             "switches one off; switching a hair colour on switches the others off); the other "
                             "attributes stay as the discriminator's classification head estimates them for each "
                             "photo (a user's photo comes with no labels)."}
    needs_examples = True
    label_fields = ("domain",)

    def __init__(self, config: ml_collections.ConfigDict):
        super().__init__(config)
        if "content" in figure_names(config) and "domains" not in figure_names(config):
            raise ConfigError("config.eval.figures=content is measured on the domain figures' translations; "
                              "name both: --config.eval.figures=domains,content")
        m, size = config.model, config.image_size
        self.names = domain_names(config)
        self.multi_label = layout_of(config.data) == "attributes"
        self.groups = exclusive_groups(self.names, config.data.exclusive if self.multi_label else ())
        if size % 4:
            raise ConfigError(f"config.image_size ({size}) must be a multiple of 4 (two stride-2 downsamplings)")
        if size % 2 ** m.d_layers:
            raise ConfigError(f"config.image_size ({size}) must be divisible by 2**model.d_layers "
                              f"({2 ** m.d_layers}); lower model.d_layers")
        options = model_options(config)
        self.G = models.ResNetGenerator(config.data.channels, m.num_blocks, m.g_features, "instance_affine",
                                        kernel_size=4, padding_mode="zeros", use_bias=False,
                                        kernel_init=Conv.kernel_init, **options)
        self.D = models.StarGANDiscriminator(size, len(self.names), m.d_features, m.d_layers, **options)
        g = config.gan
        self.loss, self.n_critic = g.loss, int(g.n_critic)
        self.gp_weight, self.lambda_cls, self.lambda_rec = float(g.gp_weight), float(g.lambda_cls), float(g.lambda_rec)
        self.examples_per_row = self.n_critic
        self.g_opt = run_optimizer(config, "g")
        self.d_opt = run_optimizer(config, "d", updates_per_step=self.n_critic)
        # attribute models estimate a photo's own attributes with D's classification head
        self.auxiliary_names = ("D",) if self.multi_label else ()
        self.generator_spec = GeneratorSpec("image", config.data.channels, size_multiple=4,
                                            choices={"target": self.names}, required=("target",))

    def example_batch(self, rows: int = 1) -> dict[str, np.ndarray]:
        batch = super().example_batch(rows)
        lead = batch["image"].shape[:-3]
        return {**batch, "domain": np.zeros(lead + (len(self.names),), np.float32)}

    def init(self, rng: jax.Array, batch: Batch) -> TrainState:
        g_key, d_key, run_key = jax.random.split(rng, 3)
        image, domain = (batch[k].reshape((-1,) + batch[k].shape[-(3 if k == "image" else 1):])[:1]
                         for k in ("image", "domain"))
        return new_state(run_key, {"G": init_net(self.G, self.g_opt, g_key, image, domain),
                                   "D": init_net(self.D, self.d_opt, d_key, image)})

    # ------------------------------------------------------------------------------------ updates
    def sample_targets(self, rng: jax.Array, labels: jax.Array) -> jax.Array:
        """Target labels: ``labels`` shuffled across the batch, each exclusive group then left with at
        most one attribute on (a random one of those on)."""
        perm_key, pick_key = jax.random.split(rng)
        targets = labels[jax.random.permutation(perm_key, labels.shape[0])]
        for group in self.groups:
            idx = np.asarray(group)
            on = targets[:, idx]
            keep = jax.nn.one_hot(jnp.argmax(on * jax.random.uniform(pick_key, on.shape, minval=0.1), -1), len(idx))
            targets = targets.at[:, idx].set(keep * (on.sum(-1, keepdims=True) > 0))
        return targets

    def _classification(self, logits: jax.Array, targets: jax.Array) -> jax.Array:
        return losses.domain_classification(logits, targets, self.multi_label)

    def _critic_update(self, d: NetState, real: jax.Array, labels: jax.Array, fake: jax.Array, key: jax.Array
                       ) -> tuple[NetState, Metrics]:
        def real_classification(logits: jax.Array) -> tuple[jax.Array, Metrics]:
            loss = self._classification(logits, labels)
            return self.lambda_cls * loss, {"d_classification": loss}

        return adversarial.discriminator_update(self.D, d, self.d_opt, real, fake, self.loss, gp_weight=self.gp_weight,
                                                rng=key, real_aux_loss=real_classification)

    def _generator_update(self, g: NetState, d: NetState, forward: adversarial.GeneratorPass, real: jax.Array,
                          labels: jax.Array, targets: jax.Array) -> tuple[NetState, Metrics]:
        """G's update; its translation ``forward`` was computed before the critic updates (G is unchanged by
        them), so the gradient is the direct one (the reconstruction's second G pass) plus the one through
        the saved pass."""
        def loss_fn(params, fake):
            patches, logits = adversarial.apply_train(self.D, d, d.params, fake)[0]
            back = adversarial.apply_train(self.G, g, params, fake, labels)[0]
            terms = {"g_adversarial": losses.generator_loss(self.loss, patches),
                     "g_classification": self._classification(logits, targets),
                     "reconstruction": losses.l1(back, real)}
            loss = terms["g_adversarial"] + self.lambda_cls * terms["g_classification"] \
                + self.lambda_rec * terms["reconstruction"]
            return loss, dict(terms, g_loss=loss)

        (direct, through_fake), metrics = jax.grad(loss_fn, argnums=(0, 1), has_aux=True)(g.params, forward.fake)
        grads = jax.tree.map(jnp.add, direct, forward.vjp(through_fake)[0])
        return adversarial.apply_grads(g, grads, self.g_opt), metrics

    def train_step(self, state: TrainState, batch: Batch, frozen: dict[str, Any]) -> tuple[TrainState, Metrics]:
        g, d = state.nets["G"], state.nets["D"]
        images, labels = batch["image"], batch["domain"]
        if self.n_critic > 1:                        # [B, n_critic, ...] -> one batch per critic update
            images, labels = jnp.swapaxes(images, 0, 1), jnp.swapaxes(labels, 0, 1)
        else:
            images, labels = images[None], labels[None]
        keys = jax.random.split(state.step_rng(), 2 * self.n_critic).reshape(self.n_critic, 2, -1)
        targets = jax.vmap(self.sample_targets)(keys[:, 0], labels)
        # The last critic update and G's update share one G pass (the PyTorch reference runs two).
        forward = adversarial.generator_forward(self.G, g, images[-1], targets[-1])

        def critic_iteration(d: NetState, inputs: tuple[jax.Array, ...]) -> tuple[NetState, Metrics]:
            index, real, label, target, key = inputs
            fake = jax.lax.cond(index == self.n_critic - 1, lambda: forward.fake,
                                lambda: adversarial.apply_train(self.G, g, g.params, real, target)[0])
            return self._critic_update(d, real, label, fake, key)

        d, metrics = adversarial.critic_loop(critic_iteration, d, (jnp.arange(self.n_critic), images, labels, targets,
                                                                    keys[:, 1]))
        g, g_metrics = self._generator_update(g, d, forward, images[-1], labels[-1], targets[-1])
        metrics = dict(metrics, **g_metrics)
        if self.loss == "wasserstein":
            metrics["wasserstein_estimate"] = metrics["d_real"] - metrics["d_fake"]
        return state.replace(nets={"G": g, "D": d}), metrics

    # ---------------------------------------------------------------------------------- generation
    def check_choice(self, name: str, value: str) -> None:
        """``--target``: a domain name; for attribute models also ``Name,Other=0,...`` (on unless ``=0``)."""
        parts = value.split(",") if self.multi_label else [value]
        for part in parts:
            attribute, _, setting = part.strip().partition("=")
            if attribute not in self.names or setting not in ("", "0", "1"):
                form = " (comma-separated, each optionally =0 or =1)" if self.multi_label else ""
                raise ConfigError(f"unknown --target {value!r}; this run knows {', '.join(self.names)}{form}")

    def target_labels(self, own: jax.Array, target: str) -> jax.Array:
        """``own`` labels [B, D] changed as ``target`` asks: one domain's one-hot, or (attributes) the named
        attributes set (others of their exclusive group off)."""
        if not self.multi_label:
            return jnp.broadcast_to(jax.nn.one_hot(self.names.index(target), len(self.names)), own.shape)
        labels = own
        for part in target.split(","):
            attribute, _, setting = part.strip().partition("=")
            index, on = self.names.index(attribute), setting != "0"
            if on:
                for group in self.groups:
                    if index in group:
                        labels = labels.at[:, np.asarray(group)].set(0.0)
            labels = labels.at[:, index].set(float(on))
        return labels

    def own_labels(self, variables: dict[str, Any], images: jax.Array) -> jax.Array:
        """Attribute models: D's estimate of each image's own attributes (its classification head on the
        image resized to the training size, thresholded at 0.5)."""
        size = self.config.image_size
        resized = jax.image.resize(images, (images.shape[0], size, size, images.shape[-1]), "linear")
        logits = self.D.apply(variables["D"], resized, train=False)[1]
        return (logits > 0).astype(jnp.float32)

    def predict(self, variables: dict[str, Any], inputs: jax.Array, target: str = "", **choices: str
                ) -> jax.Array:
        if not target:
            raise ConfigError(f"give --target: one of {', '.join(self.names)}, or all")
        n = inputs.shape[0]
        own = self.own_labels(variables, inputs) if self.multi_label else jnp.zeros((n, len(self.names)))
        return self.translate(variables, inputs, self.target_labels(own, target))

    def translate(self, variables: dict[str, Any], images: jax.Array, labels: jax.Array) -> jax.Array:
        """``images`` into the domains ``labels`` [B, D] (one-hot or multi-hot)."""
        return self.G.apply(variables["G"], images, labels, train=False)

    def sample_inputs(self, rng: jax.Array, num: int, examples: dict[str, Any] | None = None) -> Any:
        return {"image": examples["image"][:num], "domain": examples["domain"][:num]}

    def sample_grid(self, variables: dict[str, Any], inputs: Any) -> jax.Array:
        """Each row: the input, then its translation into every domain (attributes: each one flipped,
        hair colours set, as the paper's grids)."""
        columns = [inputs["image"]] + [self.translate(variables, inputs["image"], t)
                                       for t in test_targets(inputs["domain"], self.names, self.groups, self.multi_label)]
        return jnp.concatenate(columns, axis=2)

    def domain_figures(self, variables: dict[str, Any], train: dict[str, Any],
                       held_out: dict[str, Any]) -> dict[str, float]:
        """Domain accuracy of translations by an independently trained classifier (with its accuracy on
        real images and on untranslated inputs) and reconstruction L1; with the ``content`` evaluator also
        named, the fraction of translations that keep the data's ``content`` label (the embedded digits)."""
        translate = jax.jit(self.translate)
        return domain_eval.evaluate(lambda x, labels: np.asarray(translate(variables, x, labels)), train, held_out,
                                    lambda own: test_targets(own, self.names, self.groups, self.multi_label),
                                    self.multi_label, int(self.config.seed),
                                    content="content" in figure_names(self.config))

    def content_figures(self, variables: dict[str, Any], train: dict[str, Any],
                        held_out: dict[str, Any]) -> dict[str, float]:
        """None of its own: `domain_figures` measures ``content_*`` on its translations when this evaluator
        is named beside it (the constructor refuses it alone)."""
        return {}

    def scoring_sets(self, variables: dict[str, Any], train: dict[str, Any] | None, held_out: dict[str, Any] | None,
                     num: int, seed: int) -> dict[str, ScoringSet]:
        """Domains: for each, the held-out images of the other domains translated into it, against its
        training images. Attributes: the held-out images with each attribute changed in turn (as in the
        sample grids), against the training images."""
        if train is None or held_out is None:
            return {}
        translate = jax.jit(self.translate)
        own = np.asarray(held_out["domain"], np.float32)

        def translated(rows: np.ndarray, targets: list[jax.Array]) -> Any:
            def run() -> np.ndarray:
                out = [in_batches(functools.partial(translate, variables), held_out["image"][rows], np.asarray(t)[rows],
                                  batch=16) for t in targets]
                return np.concatenate(out)[:num]
            return run

        targets = test_targets(own, self.names, self.groups, self.multi_label)
        if self.multi_label:
            return {"": ScoringSet(train["image"][:num], translated(np.ones(len(own), bool), targets))}
        real_domain, own_domain = np.asarray(train["domain"]).argmax(-1), own.argmax(-1)
        return {name: ScoringSet(train["image"][real_domain == i][:num], translated(own_domain != i, [targets[i]]))
                for i, name in enumerate(self.names) if (own_domain != i).any() and (real_domain == i).any()}


def exclusive_groups(names: tuple[str, ...], groups: tuple[str, ...]) -> tuple[tuple[int, ...], ...]:
    """The indices, among ``names``, of each exclusive group (``"A,B,C"``) with at least two members there."""
    found = []
    for group in groups:
        members = tuple(names.index(n.strip()) for n in group.split(",") if n.strip() in names)
        if len(members) > 1:
            found.append(members)
    return tuple(found)


def test_targets(own: jax.Array, names: tuple[str, ...], groups: tuple[tuple[int, ...], ...], multi_label: bool
                 ) -> list[jax.Array]:
    """One target label array per domain for images labelled ``own`` [B, D]: every domain's one-hot, or
    (attributes) each attribute flipped, a hair colour (exclusive group member) set with the others off."""
    own = jnp.asarray(own, jnp.float32)
    if not multi_label:
        return [jnp.broadcast_to(jax.nn.one_hot(i, len(names)), own.shape) for i in range(len(names))]
    targets = []
    for i in range(len(names)):
        group = next((g for g in groups if i in g), None)
        if group is None:
            targets.append(own.at[:, i].set(1.0 - own[:, i]))
        else:
            targets.append(own.at[:, np.asarray(group)].set(0.0).at[:, i].set(1.0))
    return targets
