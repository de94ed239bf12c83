"""Shared config defaults, override checking, and the resolved config a run records."""
from __future__ import annotations

import json
from pathlib import Path

import ml_collections

from jaxgan.errors import ConfigError


def base_config() -> ml_collections.ConfigDict:
    """Fields every recipe has; `configs/<recipe>.py` starts from this and changes what it needs."""
    c = ml_collections.ConfigDict()
    c.recipe = "noise_to_image"
    c.seed = 0
    c.batch_size = 64            # global, over every device and host
    c.num_steps = 1000           # training steps; a step is every D and G update of one iteration
    c.image_size = 32

    c.data = ml_collections.ConfigDict()
    c.data.source = "digits"     # digits | faces (embedded) | folder | tfds
    c.data.name = ""             # TFDS name, e.g. mnist, cifar10, celeb_a
    c.data.split = "train"
    c.data.eval_split = "test"
    c.data.data_dir = ""         # TFDS data_dir ('' = TFDS default)
    c.data.download = False      # let TFDS download and prepare a missing data set
    c.data.path = ""             # image folder for source=folder
    c.data.channels = 1          # 1 (grayscale) or 3 (RGB); inputs are converted
    c.data.resize = "crop"       # crop (shorter side + centre crop) | stretch
    c.data.layout = "single"     # folder/tfds: single | side_by_side | two_folders | unpaired
    c.data.load_size = 0         # > image_size: load at this size, then random-crop (pix2pix jitter)
    c.data.random_flip = False
    c.data.shuffle_buffer = 10_000

    c.model = ml_collections.ConfigDict()
    c.model.dtype = "float32"    # compute dtype (bfloat16 on accelerators); params stay float32

    c.optim = ml_collections.ConfigDict()
    c.log_every = 50
    c.sample_every = 500
    c.checkpoint_every = 500
    c.evaluate = True            # run the recipe's evaluation at the end of training
    c.eval_every = 0             # also every this many steps (0: only at the end)
    c.keep_checkpoints = 3
    c.num_samples = 64           # images in each sample grid
    c.conv_impl = "auto"         # auto (matmul lowering on CPU, native elsewhere) | xla | matmul
    return c


def adam(lr: float, b1: float, b2: float = 0.999) -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict(dict(name="adam", lr=lr, b1=b1, b2=b2, weight_clip=0.0,
                                          schedule="constant", decay_start=0.5))


def rmsprop(lr: float, weight_clip: float = 0.0) -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict(dict(name="rmsprop", lr=lr, b1=0.0, b2=0.0, weight_clip=weight_clip,
                                          schedule="constant", decay_start=0.5))


def set_field(config: ml_collections.ConfigDict, dotted: str, value) -> None:
    """``set_field(c, "model.g_features", 64)``: sets a nested field by its dotted name."""
    *path, leaf = dotted.split(".")
    for part in path:
        config = config[part]
    config[leaf] = value


def validate(config: ml_collections.ConfigDict) -> None:
    """Cross-field checks that ml_collections' per-field typing cannot express."""
    for field in ("batch_size", "num_steps", "image_size", "log_every", "keep_checkpoints", "num_samples"):
        if config[field] <= 0:
            raise ConfigError(f"config.{field} must be positive, got {config[field]}")
    if config.data.channels not in (1, 3):
        raise ConfigError(f"config.data.channels must be 1 or 3, got {config.data.channels}")
    if config.conv_impl not in ("auto", "xla", "matmul"):
        raise ConfigError(f"config.conv_impl must be auto, xla or matmul, got {config.conv_impl!r}")


def save_json(config: ml_collections.ConfigDict, path: str | Path) -> None:
    Path(path).write_text(config.to_json_best_effort(indent=2, sort_keys=True))


def load_json(path: str | Path) -> ml_collections.ConfigDict:
    """The resolved config a run recorded in its workdir."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path} not found: is this a jaxgan workdir?")
    return ml_collections.ConfigDict(json.loads(path.read_text()))
