"""A trained generator as a Python object: ``jaxgan.load(run)``, then what the run consumes.

    g = jaxgan.load("runs/dcgan")                 # a workdir (latest, given or best step) or an exported file
    images = g.generate(16, seed=0)               # uint8 [16, H, W, C]
    by_prompt = g.from_prompts(["a red seven"], num=4)          # text-to-image runs
    outputs = g.translate([photo], direction="AtoB")             # pix2pix, CycleGAN, StarGAN (target=...)
    large = g.upscale([photo], tile=256)                         # super-resolution, tiled

Images go in as numpy uint8 arrays (``[H, W]``, ``[H, W, 1|3|4]``) or PIL images of any size and come
out as uint8 numpy arrays at their own size (times the upscaling factor). ``infer.py`` runs the same
methods, so a notebook and the command give the same images.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import jax
import numpy as np
from PIL import Image

from jaxgan import batch_translate, recipes
from jaxgan.data.images import to_mode, to_uint8
from jaxgan.errors import ConfigError
from jaxgan.inference import Predictor, load_generator
from jaxgan.recipes.base import GeneratorSpec


def sample_noise(seed: int, start: int, count: int, latent_dim: int) -> jax.Array:
    """The noise of images ``start .. start + count - 1``: image ``i``'s is a function of (seed, i) alone,
    so outputs do not depend on the batch size."""
    rng = jax.random.PRNGKey(seed)
    return jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(rng, i), (latent_dim,)))(
        jax.numpy.arange(start, start + count))


class Generator:
    """A run's generator(s) at one checkpoint step: ``spec`` says what it consumes and its choices."""

    def __init__(self, recipe: recipes.Recipe, variables: dict[str, Any], step: int):
        self.recipe, self.variables, self.step = recipe, variables, step
        self._predictors: dict[tuple[tuple[str, Any], ...], Predictor] = {}

    @property
    def spec(self) -> GeneratorSpec:
        return self.recipe.generator_spec

    def predictor(self, **choices: str | None) -> Predictor:
        """The jitted generator for ``choices`` (each checked against ``spec``), built once per choice set."""
        choices = {name: value for name, value in choices.items() if value is not None}
        key = tuple(sorted(choices.items()))
        if key not in self._predictors:
            self._predictors[key] = Predictor(self.recipe, self.variables, **choices)
        return self._predictors[key]

    def _require(self, *kinds: str, what: str) -> None:
        if self.spec.consumes not in kinds:
            raise ConfigError(f"{what} does not apply: this run's generator consumes {self.spec.consumes}")

    # -------------------------------------------------------------------------------- from noise
    def image_batches(self, num: int, seed: int = 0, batch: int = 64, prompt: str | None = None
                      ) -> Iterator[np.ndarray]:
        """``num`` generated images as uint8 batches of up to ``batch`` (text runs: for ``prompt``)."""
        predict = self.predictor()
        text = None
        if prompt is not None:
            text = self.recipe.encode_prompts([prompt])[0]
        for start in range(0, num, batch):
            inputs = sample_noise(seed, start, batch, self.spec.latent_dim)
            if text is not None:
                inputs = {"noise": inputs, "text": jax.numpy.broadcast_to(text, (batch,) + text.shape)}
            yield to_uint8(predict(inputs))[:min(batch, num - start)]

    def generate(self, num: int, seed: int = 0, batch: int = 64) -> np.ndarray:
        """uint8 ``[num, H, W, C]`` images from noise; image ``i`` depends on (``seed``, i) alone."""
        self._require("noise", what="generate")
        return np.concatenate(list(self.image_batches(num, seed, batch)))

    def from_prompts(self, prompts: Sequence[str], num: int = 8, seed: int = 0, batch: int = 64) -> list[np.ndarray]:
        """One uint8 ``[num, H, W, C]`` array per prompt; image ``i`` of every prompt starts from the same
        noise. Words the run's vocabulary lacks are ignored (`unknown_words` names them)."""
        self._require("text", what="from_prompts")
        return [np.concatenate(list(self.image_batches(num, seed, batch, prompt))) for prompt in prompts]

    def unknown_words(self, prompts: Sequence[str]) -> list[str]:
        """The words of ``prompts`` this run's vocabulary does not know, each once."""
        from jaxgan.text import unknown_words

        return list(dict.fromkeys(w for prompt in prompts for w in unknown_words(prompt, self.recipe.vocabulary)))

    # -------------------------------------------------------------------------------- from images
    def runner(self, tile: int | None = None, batch: int | None = None, **choices: str | None
               ) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
        """``(run, images per call)`` that `batch_translate.translated` drives: the generator on a batch,
        or, where the run upscales in tiles, on one image in tiles of ``tile`` input pixels (default: the
        run's), ``batch`` tiles per call."""
        predict = self.predictor(**choices)
        if self.spec.tile_margin:
            tile, tiles = tile or self.spec.tile, batch or 2
            return (lambda x: predict.tiled(x[0], tile, tiles)[None]), 1
        if tile is not None:
            raise ConfigError("tile does not apply: this run translates whole images")
        return predict, batch or 8

    def _run_images(self, images: Iterable[Any], tile: int | None, batch: int | None, size: int | None,
                    choices: dict[str, str | None]) -> list[np.ndarray]:
        run, per_call = self.runner(tile, batch, **choices)
        arrays = [(i, _as_array(image, self.spec.channels)) for i, image in enumerate(images)]
        out: list[np.ndarray | None] = [None] * len(arrays)
        for i, image in batch_translate.translated(run, arrays, self.spec.size_multiple, per_call, size,
                                                   self.spec.scale):
            out[i] = image
        return out

    def translate(self, images: Iterable[Any], batch: int = 8, size: int | None = None,
                  **choices: str | None) -> list[np.ndarray]:
        """Each image translated at its own size (or resized to ``size`` and back), in ``choices``
        (``direction="BtoA"``, StarGAN's ``target="neon"``); uint8 arrays."""
        self._require("image", what="translate")
        if self.spec.tile_margin:
            raise ConfigError("this run upscales: use upscale(images, tile=...)")
        self._check_choices(choices)
        return self._run_images(images, None, batch, size, choices)

    def upscale(self, images: Iterable[Any], tile: int | None = None, batch: int = 2) -> list[np.ndarray]:
        """Each image upscaled ``spec.scale`` times, in overlapping tiles of ``tile`` input pixels
        (seamless; memory bounded by the tile), ``batch`` tiles per call; uint8 arrays."""
        self._require("image", what="upscale")
        if not self.spec.tile_margin:
            raise ConfigError("this run translates: use translate(images)")
        return self._run_images(images, tile, batch, None, {})

    def _check_choices(self, choices: dict[str, str | None]) -> None:
        for name in self.spec.required:
            if choices.get(name) is None:
                raise ConfigError(f"this run needs {name}=...: one of {', '.join(self.spec.choices[name])}")


def _as_array(image: Any, channels: int) -> np.ndarray:
    """A numpy or PIL image -> uint8 ``[H, W, channels]``."""
    if not isinstance(image, Image.Image):
        array = np.asarray(image)
        if array.dtype != np.uint8 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (1, 3, 4)):
            raise ConfigError(f"images are uint8 arrays [H, W] or [H, W, 1|3|4], or PIL images; got {array.dtype} "
                              f"{array.shape}")
        image = Image.fromarray(array[..., 0] if array.ndim == 3 and array.shape[-1] == 1 else array)
    converted = to_mode(image, channels)
    return np.asarray(converted).reshape(converted.height, converted.width, channels)


def load(path: str | Path, step: int | str | None = None) -> Generator:
    """The generator of a run's workdir (its latest checkpoint, ``step``, or ``"best"``) or of a file
    ``infer.py --export`` wrote."""
    return Generator(*load_generator(path, step))
