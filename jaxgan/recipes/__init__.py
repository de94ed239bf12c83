"""Recipes by name: the only place that knows how each GAN is trained."""
from __future__ import annotations

import ml_collections

from jaxgan.errors import ConfigError
from jaxgan.recipes.base import GeneratorSpec, NetState, Recipe, TrainState
from jaxgan.recipes.cyclegan import CycleGAN
from jaxgan.recipes.noise_to_image import NoiseToImage
from jaxgan.recipes.pix2pix import Pix2Pix
from jaxgan.recipes.srgan import SRGAN
from jaxgan.recipes.stargan import StarGAN
from jaxgan.recipes.text_to_image import TextToImage

RECIPES: dict[str, type[Recipe]] = {"noise_to_image": NoiseToImage, "pix2pix": Pix2Pix, "cyclegan": CycleGAN,
                                    "srgan": SRGAN, "stargan": StarGAN, "text_to_image": TextToImage}


def build(config: ml_collections.ConfigDict) -> Recipe:
    """The recipe ``config.recipe`` names, constructed from the config (a whole one: a shipped config, or a
    recorded one as `jaxgan.config.load_json` completes it)."""
    try:
        cls = RECIPES[config.recipe]
    except KeyError:
        raise ConfigError(f"unknown recipe {config.recipe!r}; known: {', '.join(sorted(RECIPES))}") from None
    return cls(config)


__all__ = ["GeneratorSpec", "NetState", "RECIPES", "Recipe", "TrainState", "build"]
