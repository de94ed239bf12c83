"""Shared config defaults, override checking, and the resolved config a run records."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import ml_collections

from jaxgan.errors import ConfigError


def configs_dir() -> Path:
    """The shipped recipe configs: ``configs/`` beside the package in a checkout, ``jaxgan/configs`` in
    an installed one."""
    package = Path(__file__).resolve().parent
    installed = package / "configs"
    return installed if installed.is_dir() else package.parent / "configs"


def shipped_config(name: str, variant: str = "") -> ml_collections.ConfigDict:
    """``get_config(variant)`` of the shipped config ``name`` (``dcgan``, ``srgan``...)."""
    return config_beside(str(configs_dir() / "_"), name, variant)


def config_beside(path: str, name: str, variant: str = "") -> ml_collections.ConfigDict:
    """``get_config(variant)`` of the config file ``name``.py in the folder of ``path`` (a config's
    ``__file__``): configs that build on one another, wherever the folder is."""
    import importlib.util

    file = Path(path).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"jaxgan_config_{name}", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(variant)


def check_variant(requested: str, path: str, *known: str) -> str:
    """``requested`` (``--config FILE:VARIANT``; '' the default) if the config ``path`` offers it, else a
    `ConfigError` listing what it offers."""
    if requested and requested not in known:
        offered = ", ".join(f"{Path(path).name}:{k}" for k in known) or "no variants"
        raise ConfigError(f"{Path(path).name} has no variant {requested!r} ({offered})")
    return requested


def base_config(recipe: str = "", **fields: Any) -> ml_collections.ConfigDict:
    """Fields every recipe has, with ``recipe`` and the top-level ``fields`` given (``image_size=64``);
    `configs/<recipe>.py` starts from this and changes what it needs."""
    c = ml_collections.ConfigDict()
    c.recipe = ""                # the registered recipe (jaxgan/recipes/__init__.py): each config names its own
    c.seed = 0                   # parameters, noise, data order and augmentation
    c.batch_size = 64            # global, over every device and host
    c.num_steps = 1000           # training steps; a step is every D and G update of one iteration
    c.image_size = 32            # training images are image_size x image_size (SR: the HR crop)

    c.data = ml_collections.ConfigDict()
    c.data.source = "digits"     # a registered source (jaxgan/data/registry.py): digits | faces | folder | prepared | tfds ...
    c.data.name = ""             # TFDS name, e.g. mnist, cifar10, celeb_a
    c.data.split = "train"       # the training split
    c.data.eval_split = "test"   # the held-out split evaluation reads
    c.data.data_dir = ""         # TFDS data_dir ('' = TFDS default)
    c.data.download = False      # let TFDS download and prepare a missing data set
    c.data.path = ""             # image folder for source=folder, prepared set for source=prepared
    c.data.channels = 1          # 1 (grayscale) or 3 (RGB); inputs are converted
    c.data.resize = "crop"       # crop (shorter side + centre crop) | stretch | none (own size: crops of it)
    c.data.layout = ""           # "": the source's default; single | side_by_side | two_folders | unpaired | hr | lr_hr
    c.data.load_size = 0         # > image_size: load at this size, then random-crop (pix2pix jitter)
    c.data.random_flip = False   # random horizontal flips (SR: the 8 flips and rotations)
    c.data.shuffle_buffer = 10_000   # TFDS streams: examples shuffled in memory
    c.data.index_cache = "auto"  # folder header index: auto (~/.cache/jaxgan/folders) | '' (off) | a folder
    c.data.service = ""          # a tf.data service dispatcher HOST:PORT: input made by its workers

    c.model = ml_collections.ConfigDict()
    c.model.dtype = "auto"       # compute dtype: auto = bfloat16 on GPU/TPU, float32 on CPU; params stay float32
    c.model.conv_impl = "auto"   # convolution lowering: auto | xla | matmul | space_to_depth (jaxgan/nn/conv.py)

    c.optim = ml_collections.ConfigDict()
    c.log_every = 50             # steps between logged metrics (TensorBoard, metrics.jsonl)
    c.sample_every = 500         # steps between sample grids
    c.checkpoint_every = 500     # steps between checkpoints
    c.evaluate = True            # run the recipe's evaluation at the end of training
    c.eval_every = 0             # also every this many steps (0: only at the end)
    c.eval = ml_collections.ConfigDict()
    c.eval.figures = ""          # the recipe's quality figures, comma-separated evaluator names (each config names its own)
    c.eval.metrics = ""          # sample metrics at each evaluation, comma-separated: fid, kid, is, pr ('': none)
    c.eval.features = "inception"    # their feature space: inception (pytorch-fid's weights) | classifier (labelled data)
    c.eval.num_images = 10_000   # generated images per evaluation, against as many real ones (at most the data's)
    c.eval.inception_weights = ""    # FID Inception weights: pytorch-fid's .pth or a TorchScript .pt ('': found)
    c.eval.fid_mode = "legacy_pytorch"   # image preparation: legacy_pytorch (pytorch-fid) | clean (clean-fid) | legacy_tensorflow
    c.eval.best = ""             # the figure the best checkpoint is kept by ('': the first metric's)
    c.keep_checkpoints = 3       # the newest checkpoints kept (plus milestones and the best)
    c.num_samples = 64           # images in each sample grid
    c.ema_decay = 0.0            # > 0: samples, evaluation and infer.py use this moving average of G's weights
    c.steps_per_dispatch = 1     # > 1: up to this many steps in one device loop (short steps, e.g. MLPs on a GPU)
    c.host_timeout_s = 60.0      # several hosts: a host silent this long is lost, and the others stop
    c.compile_cache = "auto"     # XLA's persistent compilation cache: auto (~/.cache/jaxgan/xla) | '' (off) | a folder
    # Set by the trainer: ((step, previous num_steps), ...) for each resume with a new num_steps, so that
    # learning-rate schedules continue from where they were (see optim.learning_rate).
    c.schedule_extensions = ()
    for name, value in {"recipe": recipe, **fields}.items():
        if name not in c or isinstance(c[name], ml_collections.ConfigDict):
            raise TypeError(f"base_config: {name!r} is not a top-level field")
        c[name] = value
    return c


def adam(lr: float, b1: float, b2: float = 0.999, schedule: str = "constant") -> ml_collections.ConfigDict:
    """An ``optim.<net>`` entry for Adam (``schedule``: `jaxgan.optim.SCHEDULES`)."""
    return ml_collections.ConfigDict(dict(name="adam", lr=lr, b1=b1, b2=b2, weight_clip=0.0,
                                          schedule=schedule, decay_start=0.5))


def rmsprop(lr: float, weight_clip: float = 0.0) -> ml_collections.ConfigDict:
    """An ``optim.<net>`` entry for RMSProp, its weights clipped to [-weight_clip, weight_clip] (WGAN)."""
    return ml_collections.ConfigDict(dict(name="rmsprop", lr=lr, b1=0.0, b2=0.0, weight_clip=weight_clip,
                                          schedule="constant", decay_start=0.5))


def set_field(config: ml_collections.ConfigDict, dotted: str, value) -> None:
    """``set_field(c, "model.g_features", 64)``: sets a nested field by its dotted name."""
    *path, leaf = dotted.split(".")
    for part in path:
        config = config[part]
    config[leaf] = value


def _get(config: ml_collections.ConfigDict, dotted: str):
    """The value of a dotted field, or None where the config has no such field."""
    for part in dotted.split("."):
        if not isinstance(config, ml_collections.ConfigDict) or part not in config:
            return None
        config = config[part]
    return config


def validate(config: ml_collections.ConfigDict) -> None:
    """Every name field against what exists, and the ranges and cross-field rules ml_collections' per-field
    typing cannot express; raises `ConfigError` naming the field."""
    from jaxgan import diff_augment, losses, nn, optim, recipes
    from jaxgan.data import registry

    for field in ("batch_size", "num_steps", "image_size", "log_every", "sample_every", "checkpoint_every",
                  "keep_checkpoints", "num_samples", "steps_per_dispatch"):
        if config[field] <= 0:
            raise ConfigError(f"config.{field} must be positive, got {config[field]}")
    if config.data.channels not in (1, 3):
        raise ConfigError(f"config.data.channels must be 1 or 3, got {config.data.channels}")
    names = {"recipe": recipes.RECIPES, "model.conv_impl": nn.CONV_IMPLS, "model.norm": nn.NORMS,
             "model.d_norm": nn.NORMS, "gan.loss": losses.ADVERSARIAL, "data.source": registry.SOURCES,
             "data.layout": ("",) + registry.LAYOUTS, "data.resize": ("crop", "stretch", "none")}
    recipe = recipes.RECIPES.get(config.recipe)
    names.update(recipe.option_names if recipe is not None else {})
    for net in (config.optim.keys() if "optim" in config else ()):
        names[f"optim.{net}.name"] = optim.OPTIMIZERS
        names[f"optim.{net}.schedule"] = optim.SCHEDULES
    for field, allowed in names.items():
        value = _get(config, field)
        if value is not None and value not in allowed:
            raise ConfigError(f"config.{field}={value!r} is unknown; choose one of {', '.join(sorted(allowed))}")
    diff_augment.parse(_get(config, "gan.augment") or "")
    try:
        if config.model.dtype != "auto":
            jnp.dtype(config.model.dtype)
    except TypeError:
        raise ConfigError(f"config.model.dtype={config.model.dtype!r} is not a dtype (auto, float32, bfloat16)") from None
    ranges = {"eval_every": (0, None), "data.load_size": (0, None), "ema_decay": (0.0, 0.99999),
              "host_timeout_s": (1.0, None), **(recipe.option_ranges if recipe is not None else {})}
    for net in (config.optim.keys() if "optim" in config else ()):
        ranges[f"optim.{net}.lr"] = (0.0, None)
        ranges[f"optim.{net}.decay_start"] = (0.0, 1.0)
    for field, (low, high) in ranges.items():
        value = _get(config, field)
        if value is not None and (value < low or (high is not None and value > high)):
            bound = f">= {low}" if high is None else f"in [{low}, {high}]"
            raise ConfigError(f"config.{field} must be {bound}, got {value}")
    if recipe is not None:
        from jaxgan.recipes.base import figure_names
        for name in figure_names(config):
            if name not in recipe.evaluators:
                known = ", ".join(recipe.evaluators) or "none"
                raise ConfigError(f"config.eval.figures: {config.recipe} has no evaluator {name!r} (it has: {known})")
    _validate_eval(config)


def _validate_eval(config: ml_collections.ConfigDict) -> None:
    """``config.eval``: known metrics, feature network and best-checkpoint figure."""
    from jaxgan.errors import DataError
    from jaxgan.metrics import feature_networks, fid_modes, image_sets, run_scores

    e = config.get("eval")
    if e is None or not e.metrics:
        return
    try:
        metrics = image_sets.parse_metrics(e.metrics)
    except DataError as error:
        raise ConfigError(f"config.eval.metrics: {error}") from None
    if e.features not in feature_networks.FEATURES:
        raise ConfigError(f"config.eval.features={e.features!r} is unknown; choose one of "
                          f"{', '.join(feature_networks.FEATURES)}")
    if e.num_images < 4:
        raise ConfigError(f"config.eval.num_images must be >= 4, got {e.num_images}")
    if e.fid_mode not in fid_modes.MODES:
        raise ConfigError(f"config.eval.fid_mode={e.fid_mode!r} is unknown; choose one of {', '.join(fid_modes.MODES)}")
    run_scores.best_figure(metrics, e.best)


def _flat(config: Any, prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in config.items():
        if hasattr(value, "items"):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = list(value) if isinstance(value, (tuple, list)) else value
    return out


def differences(recorded: ml_collections.ConfigDict, config: ml_collections.ConfigDict) -> dict[str, tuple[Any, Any]]:
    """``{field: (recorded value, new value)}`` for every field that differs (the trainer's own
    ``schedule_extensions`` aside; a field the recorded config predates counts as its default)."""
    old, new = {**_flat(base_config()), **_flat(recorded)}, _flat(config)
    old.pop("schedule_extensions", None)
    new.pop("schedule_extensions", None)
    return {k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)}


def describe(changes: dict[str, tuple[Any, Any]], limit: int = 6) -> str:
    """``num_steps 1000 -> 2000, optim.g.lr 0.0002 -> 0.0001`` (the first ``limit``, then a count)."""
    parts = [f"{k} {old!r} -> {new!r}" for k, (old, new) in list(changes.items())[:limit]]
    if len(changes) > limit:
        parts.append(f"and {len(changes) - limit} more")
    return ", ".join(parts)


def resumed(recorded: ml_collections.ConfigDict, config: ml_collections.ConfigDict,
            step: int) -> ml_collections.ConfigDict:
    """``config`` for resuming at ``step`` a run recorded as ``recorded``: it carries the run's schedule
    extensions, plus this one where ``num_steps`` changed (schedules continue from where they were)."""
    extensions = [tuple(int(v) for v in e) for e in recorded.get("schedule_extensions", ())]
    if int(recorded.get("num_steps", config.num_steps)) != config.num_steps:
        extensions.append((step, int(recorded.num_steps)))
    config = ml_collections.ConfigDict(config.to_dict())
    config.schedule_extensions = tuple(extensions)
    return config


def save_json(config: ml_collections.ConfigDict, path: str | Path) -> None:
    Path(path).write_text(config.to_json_best_effort(indent=2, sort_keys=True))


def complete(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """``config`` with every field it lacks filled in: the shared ones from `base_config`, the recipe's own
    from its ``field_defaults`` (what runs recorded before a field existed ran with). ``config`` itself is
    left as it is."""
    from jaxgan import recipes

    recipe = recipes.RECIPES.get(config.get("recipe"))
    wanted = {**_flat(base_config()), **(dict(recipe.field_defaults) if recipe is not None else {})}
    missing = {field: value for field, value in wanted.items() if not _has(config, field)}
    if not missing:
        return config
    config = ml_collections.ConfigDict(config.to_dict())
    for field, value in missing.items():
        *parents, leaf = field.split(".")
        node = config
        for part in parents:
            if part not in node:
                node[part] = ml_collections.ConfigDict()
            node = node[part]
        node[leaf] = tuple(value) if isinstance(value, list) else value
    return config


def _has(config: ml_collections.ConfigDict, dotted: str) -> bool:
    for part in dotted.split("."):
        if not isinstance(config, ml_collections.ConfigDict) or part not in config:
            return False
        config = config[part]
    return True


def load_json(path: str | Path) -> ml_collections.ConfigDict:
    """The resolved config a run recorded in its workdir, `complete`d (fields added since it was recorded
    take the values that run had)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path} not found: is this a jaxgan workdir?")
    return complete(ml_collections.ConfigDict(json.loads(path.read_text())))
