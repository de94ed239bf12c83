"""The text-to-image GAN's networks (Reed et al. 2016): a caption encoder, a DCGAN generator conditioned on
the caption's embedding, and a matching-aware DCGAN discriminator scoring (image, text) pairs.

Where we differ from the paper: its char-CNN-RNN encoder was pre-trained separately (a Torch7 pipeline);
`TextEncoder` is a small word-level encoder of our own, trained with the discriminator (see the recipe).
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.dcgan import DCGAN_INIT, DCGANGenerator, dcgan_body
from jaxgan.nn import Conv, make_norm


class TextEncoder(nn.Module):
    """Word ids ``[B, L]`` (0 pads) -> sentence embeddings ``[B, embed_dim]``: word embeddings, a
    convolution over ``window`` neighbouring words (1: each word alone, a bag of words, which no
    rephrasing of the same words changes; 3: "dark red" also differs from "red"), ReLU, then the mean and
    the maximum over the caption's words, mixed by a dense layer. A caption with no known word embeds as
    the dense layer's bias."""

    vocabulary_size: int
    embed_dim: int = 256
    width: int = 128
    window: int = 3

    @nn.compact
    def __call__(self, ids: jax.Array, train: bool = True) -> jax.Array:
        del train                             # no dropout or norm: the same in both modes
        mask = (ids > 0)[..., None].astype(jnp.float32)
        h = nn.Embed(self.vocabulary_size + 1, self.width)(ids) * mask
        h = nn.relu(nn.Conv(self.width, (self.window,), padding="SAME")(h)) * mask
        count = jnp.maximum(mask.sum(1), 1.0)
        pooled = jnp.concatenate([h.sum(1) / count, h.max(1)], axis=-1)
        return nn.Dense(self.embed_dim)(pooled)


def project_text(embedding: jax.Array, features: int, dtype: Any) -> jax.Array:
    """The paper's text projection: dense to ``features`` + LeakyReLU(0.2). Call it inside a compact module."""
    return nn.leaky_relu(nn.Dense(features, dtype=dtype)(embedding), 0.2)


class TextToImageGenerator(nn.Module):
    """``(z [B, latent], embedding [B, E]) -> image`` in [-1, 1]: the embedding projected to
    ``projection`` values, concatenated with z, decoded by `DCGANGenerator`."""

    image_size: int
    channels: int
    features: int = 64
    projection: int = 128
    dtype: Any = jnp.float32
    conv_impl: str = "auto"

    @nn.compact
    def __call__(self, z: jax.Array, embedding: jax.Array, train: bool = True) -> jax.Array:
        code = jnp.concatenate([z, project_text(embedding, self.projection, self.dtype).astype(z.dtype)], axis=-1)
        return DCGANGenerator(self.image_size, self.channels, self.features, dtype=self.dtype,
                              conv_impl=self.conv_impl)(code, train)


class MatchHead(nn.Module):
    """Scores image features ``[B, 4, 4, C]`` against a sentence embedding: the projected embedding tiled
    4x4 and concatenated, a 1x1 convolution (+ norm, LeakyReLU 0.2), a 4x4 convolution to one logit."""

    projection: int = 128
    norm: str = "batch"
    dtype: Any = jnp.float32
    conv_impl: str = "auto"

    @nn.compact
    def __call__(self, h: jax.Array, embedding: jax.Array, train: bool = True) -> jax.Array:
        text = project_text(embedding, self.projection, self.dtype).astype(h.dtype)
        tiled = jnp.broadcast_to(text[:, None, None, :], h.shape[:3] + text.shape[-1:])
        conv = dict(kernel_init=DCGAN_INIT, dtype=self.dtype, impl=self.conv_impl)
        h = Conv(h.shape[-1], 1, 1, 0, use_bias=False, **conv)(jnp.concatenate([h, tiled], axis=-1))
        h = nn.leaky_relu(make_norm(self.norm, train)(h), 0.2)
        return Conv(1, 4, 1, 0, **conv)(h).reshape(h.shape[0]).astype(jnp.float32)


class MatchingAwareDiscriminator(nn.Module):
    """``(image, embedding [B, E]) -> logit [B]``: DCGAN's body down to 4x4, then `MatchHead`.

    ``embedding`` may also be a tuple of embeddings for the same images (GAN-CLS's matching and
    mismatched captions of the real batch): the body then runs once and the head once per embedding,
    giving a tuple of logits. That equals separate calls (the body's batch norm sees the same batch), at
    one body pass fewer; only the body's running averages, which D never uses, are updated once instead
    of once per call.

    ``contrastive_dim`` > 0 (not in the paper): the output is ``(logits, image_codes, text_codes)``,
    unit vectors of that size from the body's features (mean over the 4x4 cells, a dense layer) and
    from the (first) embedding (a dense layer), for an image-sentence contrastive loss (`contrastive_loss`)."""

    features: int = 64
    projection: int = 128
    norm: str = "batch"
    dtype: Any = jnp.float32
    conv_impl: str = "auto"
    contrastive_dim: int = 0

    @nn.compact
    def __call__(self, x: jax.Array, embedding: jax.Array | tuple[jax.Array, ...], train: bool = True
                 ) -> jax.Array | tuple[jax.Array, ...]:
        h = dcgan_body(x, self.features, self.norm, train, self.dtype, self.conv_impl)
        head = MatchHead(self.projection, self.norm, self.dtype, self.conv_impl)
        logits = (tuple(head(h, e, train) for e in embedding) if isinstance(embedding, tuple)
                  else head(h, embedding, train))
        if not self.contrastive_dim:
            return logits
        text = embedding[0] if isinstance(embedding, tuple) else embedding
        image_code = nn.Dense(self.contrastive_dim, name="image_code")(h.astype(jnp.float32).mean(axis=(1, 2)))
        text_code = nn.Dense(self.contrastive_dim, name="text_code")(text.astype(jnp.float32))
        return logits, unit(image_code), unit(text_code)


def unit(x: jax.Array) -> jax.Array:
    return x / jnp.sqrt(jnp.sum(x * x, axis=-1, keepdims=True) + 1e-12)


def contrastive_loss(image_codes: jax.Array, text_codes: jax.Array, temperature: float) -> jax.Array:
    """The symmetric image-sentence InfoNCE loss (XMC-GAN, Zhang et al. 2021): each image's own caption
    against the batch's other captions, and each caption's own image against the other images, on cosine
    similarities over ``temperature``. Identical captions in a batch only raise the loss's floor."""
    logits = image_codes @ text_codes.T / temperature
    labels = jnp.arange(logits.shape[0])
    rows = -jnp.take_along_axis(jax.nn.log_softmax(logits, axis=1), labels[:, None], axis=1).mean()
    columns = -jnp.take_along_axis(jax.nn.log_softmax(logits, axis=0), labels[None, :], axis=0).mean()
    return 0.5 * (rows + columns)
