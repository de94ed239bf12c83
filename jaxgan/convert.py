"""Generators from the PyTorch reference codes into jaxgan workdirs, and back (no torch needed).

    python -m jaxgan.convert --from pytorch-cyclegan-pix2pix latest_net_G.pth --arch resnet_9blocks \\
        --norm instance --workdir runs/horse2zebra [--direction AtoB] [--eval]
    python -m jaxgan.convert --from pytorch-cyclegan-pix2pix latest_net_G_A.pth latest_net_G_B.pth \\
        --arch resnet_9blocks --workdir runs/horse2zebra                      # both CycleGAN directions
    python -m jaxgan.convert --from stargan 200000-G.ckpt 200000-D.ckpt \\
        --attributes Black_Hair,Blond_Hair,Brown_Hair,Male,Young --workdir runs/celeba   # (--domains: G alone)
    python -m jaxgan.convert --from basicsr RealESRGAN_x4plus.pth --workdir runs/realesrgan [--scale 4]
    python -m jaxgan.convert --to pytorch-cyclegan-pix2pix --workdir runs/x out.pth [--direction AtoB]
    python -m jaxgan.convert --to stargan --workdir runs/x out-G.ckpt
    python -m jaxgan.convert --to basicsr --workdir runs/x out.pth

An import writes a workdir (``config.json`` and a checkpoint holding the generator) that ``infer.py``
uses unchanged. One file of the pytorch-CycleGAN-and-pix2pix code becomes a one-direction run (the
pix2pix recipe, its test-time behaviour: batch norm on each image's statistics and dropout on, or with
``--eval`` running averages and no dropout); two files (``G_A``, ``G_B``) a two-direction CycleGAN run. A BasicSR / Real-ESRGAN file (``params_ema``, else ``params``, else a bare
state dict; also the ESRGAN repository's key names) becomes a super-resolution run: RRDBNet or MSRResNet,
width, blocks, growth and scale read from its tensors, tiles overlapping by ``--tile-margin``.
Widths, channels and the residual blocks' dropout are read from the file; a file that does not match
``--arch`` / ``--norm`` is one line naming the first key that differs.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import ml_collections
import numpy as np
from absl import flags

from jaxgan import torch_file, torch_layouts
from jaxgan.config import shipped_config
from jaxgan.errors import CheckpointError, ConfigError, UserError

FORMATS = ("pytorch-cyclegan-pix2pix", "stargan", "basicsr")
#: the reference code's ``--netG`` names
ARCHS = {"resnet_9blocks": ("resnet", 9), "resnet_6blocks": ("resnet", 6), "unet_256": ("unet", 8),
         "unet_128": ("unet", 7)}
IMPORTED_STEP = 1        # an imported workdir's one checkpoint (train.py on it then says it cannot resume)
#: imported BasicSR networks' tile overlap (input pixels): RRDBNet's whole receptive radius (349 for 23
#: blocks) would make tiles mostly overlap; Real-ESRGAN's own tiling pads 10
RRDB_TILE_MARGIN = 32

_FROM = flags.DEFINE_enum("from", None, FORMATS, "Import: the code that wrote the file(s) given as arguments.")
_TO = flags.DEFINE_enum("to", None, FORMATS, "Export --workdir's generator to the file given as argument.")
_WORKDIR = flags.DEFINE_string("workdir", None, "The jaxgan workdir to write (import) or read (export).")
_ARCH = flags.DEFINE_enum("arch", None, list(ARCHS), "pytorch-cyclegan-pix2pix: the file's --netG.")
_NORM = flags.DEFINE_enum("norm", "instance", ["instance", "batch"], "pytorch-cyclegan-pix2pix: the file's --norm.")
_DIRECTION = flags.DEFINE_enum("direction", "AtoB", ["AtoB", "BtoA"], "One generator: the direction it "
                               "translates (import); the generator to export from a CycleGAN run.")
_EVAL = flags.DEFINE_bool("eval", False, "pytorch-cyclegan-pix2pix import: test with running averages and no "
                          "dropout (the reference test.py's --eval), instead of each image's statistics.")
_ATTRIBUTES = flags.DEFINE_list("attributes", None, "stargan: the file's domains or CelebA attributes, in its "
                                "order (--selected_attrs).")
_DOMAINS = flags.DEFINE_bool("domains", False, "stargan: the names are exclusive domains (one-hot labels), "
                             "not attributes.")
_IMAGE_SIZE = flags.DEFINE_integer("image-size", 128, "stargan: the training image size (the discriminator's).")
_STEP = flags.DEFINE_string("step", None, "Export: checkpoint step, or best (default: the latest).")
_SCALE = flags.DEFINE_integer("scale", None, "basicsr: the file's scale (read from its tensors; given, it is checked).")
_TILE_MARGIN = flags.DEFINE_integer("tile-margin", RRDB_TILE_MARGIN, "basicsr: the overlap of infer.py's tiles in "
                                    "input pixels, where the network's receptive radius is larger (0: the whole "
                                    "radius, exact but slow for deep RRDBNets).")


def _read(path: str) -> dict[str, np.ndarray]:
    state = torch_file.load(path)
    for key in ("state_dict", "params_ema", "params"):          # (BasicSR: the moving average first)
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, (np.ndarray, np.generic)) for v in state.values()):
        raise CheckpointError(f"{path} holds no state dict of tensors")
    return {k: np.asarray(v) for k, v in state.items()}


def _first(state: dict[str, np.ndarray], key: str, path: str) -> np.ndarray:
    for name in (key, f"module.{key}"):
        if name in state:
            return state[name]
    raise CheckpointError(f"{path} has no {key}: not a generator of this code")


# ------------------------------------------------------------------------------------ pix2pix / CycleGAN
def cyclegan_pix2pix_config(state: dict[str, np.ndarray], path: str, arch_name: str, norm: str, pair: bool,
                            direction: str, eval_mode: bool) -> ml_collections.ConfigDict:
    """The jaxgan config of a ``define_G`` network: widths and channels from the state dict."""
    arch, depth = ARCHS[arch_name]
    first = _first(state, "model.1.weight" if arch == "resnet" else "model.model.0.weight", path)
    ngf, channels = int(first.shape[0]), int(first.shape[1])
    dropout = arch == "resnet" and any(".conv_block.6." in k for k in state)
    c = shipped_config("cyclegan" if pair else "pix2pix")
    c.model.arch, c.model.norm, c.model.g_features = arch, norm, ngf
    c.model.num_blocks, c.model.num_downs = (depth, 8) if arch == "resnet" else (9, depth)
    if pair:
        if norm == "batch":
            raise ConfigError("jaxgan's CycleGAN runs with instance norm; import each --norm batch generator alone")
    else:
        c.direction = direction
        c.model.input_skip, c.model.keep_luminance, c.model.test_batch_stats = False, False, not eval_mode
        c.model.dropout = 0.5 if arch == "unet" or dropout else 0.0
    c.image_size = 2 ** depth if arch == "unet" else 256
    c.data.channels, c.data.source, c.data.resize = channels, "folder", "crop"
    return c


def _layout(config: ml_collections.ConfigDict) -> list[torch_layouts.Layer]:
    m = config.model
    if config.recipe == "stargan":
        return torch_layouts.stargan_layout(m.num_blocks)
    if config.recipe == "srgan":
        if m.arch == "rrdb":
            return torch_layouts.rrdbnet_layout(m.num_blocks)
        return torch_layouts.msrresnet_layout(m.num_blocks, 2 if config.scale == 4 else 1)
    if m.arch == "unet":
        return torch_layouts.unet_layout(m.num_downs)
    return torch_layouts.resnet_layout(m.num_blocks, bool(m.dropout))


def _generator_inputs(recipe: Any) -> tuple[Any, ...]:
    """Example inputs of the recipe's generator module (image, and StarGAN's label)."""
    c = recipe.config
    side = c.image_size // c.scale if c.recipe == "srgan" else c.image_size
    image = np.zeros((1, side, side, c.data.channels), np.float32)
    if c.recipe == "stargan":
        return image, np.zeros((1, len(recipe.names)), np.float32)
    return (image,)


def import_cyclegan_pix2pix(paths: list[str], workdir: Path) -> ml_collections.ConfigDict:
    if _ARCH.value is None:
        raise ConfigError(f"give --arch, the file's --netG: one of {', '.join(ARCHS)}")
    if len(paths) > 2:
        raise ConfigError("give one generator file (one direction), or two: G_A (A->B) then G_B (B->A)")
    states = [_read(p) for p in paths]
    config = cyclegan_pix2pix_config(states[0], paths[0], _ARCH.value, _NORM.value, len(paths) == 2,
                                     _DIRECTION.value, _EVAL.value)
    names = ("G_AB", "G_BA") if len(paths) == 2 else ("G",)
    return _write_workdir(config, {n: (s, p) for n, s, p in zip(names, states, paths)}, workdir)


# --------------------------------------------------------------------------------------------- StarGAN
def stargan_config(state: dict[str, np.ndarray], path: str, names: list[str], domains: bool,
                   image_size: int) -> ml_collections.ConfigDict:
    first = _first(state, "main.0.weight", path)
    ngf, inputs = int(first.shape[0]), int(first.shape[1])
    if inputs != 3 + len(names):
        raise ConfigError(f"{path} takes {inputs - 3} labels; --attributes names {len(names)}")
    blocks = len({k.split(".")[1] for k in state if k.startswith("main.") and ".main." in k})
    c = shipped_config("stargan")
    c.image_size, c.data.channels, c.model.g_features, c.model.num_blocks = image_size, 3, ngf, blocks
    c.model.d_features, c.model.d_layers = ngf, 6                      # the reference's defaults at 128 px
    c.data.source, c.data.layout, c.data.domains = "folder", "domains", tuple(names)
    if not domains:
        c.data.source, c.data.name, c.data.layout, c.data.attributes = "tfds", "celeb_a", "attributes", tuple(names)
    return c


def import_stargan(paths: list[str], workdir: Path) -> ml_collections.ConfigDict:
    if not _ATTRIBUTES.value:
        raise ConfigError("give --attributes: the file's domain or attribute names, in its order")
    if len(paths) > 2:
        raise ConfigError("give the generator file, and optionally the discriminator's (for a photo's own "
                          "attributes at inference)")
    if not _DOMAINS.value and len(paths) < 2:
        raise ConfigError("an attribute model estimates a photo's own attributes with its discriminator: give "
                          "the discriminator file (e.g. 200000-D.ckpt) after the generator's, or --domains")
    state = _read(paths[0])
    config = stargan_config(state, paths[0], _ATTRIBUTES.value, _DOMAINS.value, _IMAGE_SIZE.value)
    nets = {"G": (state, paths[0])}
    if len(paths) == 2:
        nets["D"] = (_read(paths[1]), paths[1])
    return _write_workdir(config, nets, workdir)


# --------------------------------------------------------------------------------------------- BasicSR
def basicsr_state(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``state`` with the ESRGAN repository's RRDBNet key names renamed to BasicSR's."""
    ours, theirs = torch_layouts.RRDB_NAMES["basicsr"], torch_layouts.RRDB_NAMES["esrgan"]
    if not any(k.startswith(f"{theirs[1]}.") for k in state):
        return state
    renamed = {}
    for key, value in state.items():
        for old, new in zip(theirs, ours):
            if key.startswith(f"{old}."):
                key = f"{new}.{key[len(old) + 1:]}"
                break
        renamed[key.replace(f".{theirs[2]}", f".{ours[2]}")] = value
    return renamed


def basicsr_config(state: dict[str, np.ndarray], path: str, scale: int | None,
                   tile_margin: int) -> ml_collections.ConfigDict:
    """The super-resolution config of a BasicSR ``RRDBNet`` or ``MSRResNet`` state dict (`basicsr_state`)."""
    first = _first(state, "conv_first.weight", path)
    features, inputs = int(first.shape[0]), int(first.shape[1])
    blocks = len({k.split(".")[1] for k in state if k.startswith("body.")})
    if "body.0.rdb1.conv1.weight" in state:
        c = shipped_config("esrgan")
        c.model.arch, c.model.growth = "rrdb", int(state["body.0.rdb1.conv1.weight"].shape[0])
        c.model.tile_margin = tile_margin
        found = {3: 4, 12: 2, 48: 1}.get(inputs)
    elif "body.0.conv1.weight" in state and "upconv1.weight" in state:
        c = shipped_config("srgan")
        c.model.arch = "msrresnet"
        stage = int(state["upconv1.weight"].shape[0]) // features
        found = (4 if "upconv2.weight" in state else {4: 2, 9: 3}.get(stage)) if inputs == 3 else None
    else:
        raise CheckpointError(f"{path} has no body.0.rdb1.conv1.weight, RRDB_trunk.0.RDB1.conv1.weight or "
                              f"body.0.conv1.weight: not a BasicSR RRDBNet or MSRResNet")
    if found is None:
        raise CheckpointError(f"{path}: conv_first takes {inputs} channels; jaxgan runs RGB models (3 channels, "
                              f"or 12 / 48 pixel-unshuffled for an RRDBNet x2 / x1)")
    if scale is not None and scale != found:
        raise ConfigError(f"{path} is a x{found} model, not x{scale}")
    c.scale, c.model.num_blocks, c.model.features = found, blocks, features
    c.model.bicubic_skip, c.ema_decay = False, 0.0
    c.image_size = 96 if found == 3 else 128
    c.data.source, c.data.layout = "folder", "hr"
    return c


def import_basicsr(paths: list[str], workdir: Path) -> ml_collections.ConfigDict:
    if len(paths) != 1:
        raise ConfigError("give one BasicSR generator file")
    state = basicsr_state(_read(paths[0]))
    return _write_workdir(basicsr_config(state, paths[0], _SCALE.value, _TILE_MARGIN.value),
                          {"G": (state, paths[0])}, workdir)


# ----------------------------------------------------------------------------------------- workdirs
def _write_workdir(config: ml_collections.ConfigDict, nets: dict[str, tuple[dict[str, np.ndarray], str]],
                   workdir: Path) -> ml_collections.ConfigDict:
    """Checks and converts every network, then writes ``config.json`` and one checkpoint (step
    `IMPORTED_STEP`) holding them."""
    from jaxgan import config as config_lib
    from jaxgan import recipes
    from jaxgan.checkpoint import Checkpointer

    if workdir.exists() and any(workdir.iterdir()):
        raise ConfigError(f"{workdir} is not empty; give a new --workdir")
    config_lib.validate(config)
    recipe = recipes.build(config)
    variables = {}
    for name, (state, path) in nets.items():
        try:
            if name == "D":
                layout = torch_layouts.stargan_discriminator_layout(config.model.d_layers)
                variables[name] = torch_layouts.from_state_dict(state, layout, recipe.D, _generator_inputs(recipe)[0],
                                                                train=False)
            else:
                variables[name] = torch_layouts.from_state_dict(state, _layout(config), recipe.G,
                                                                *_generator_inputs(recipe), train=False)
        except CheckpointError as e:
            raise CheckpointError(f"{path}: {e}") from None
    workdir.mkdir(parents=True, exist_ok=True)
    config_lib.save_json(config, workdir / "config.json")
    checkpointer = Checkpointer(workdir / "checkpoints", asynchronous=False)
    sources = {name: str(Path(path).resolve()) for name, (_, path) in nets.items()}
    checkpointer.save(IMPORTED_STEP, {"train": {"nets": variables}}, {"step": IMPORTED_STEP, "imported": sources})
    checkpointer.close()
    return config


def export(workdir: str, out: str) -> str:
    """Writes the run's generator as the reference code's state dict; returns what was written."""
    from jaxgan.inference import load_generator, parse_step

    recipe, variables, step = load_generator(workdir, parse_step(_STEP.value))
    config = recipe.config
    writes = {"pytorch-cyclegan-pix2pix": ("pix2pix", "cyclegan"), "stargan": ("stargan",), "basicsr": ("srgan",)}
    if config.recipe not in writes[_TO.value] or (config.recipe == "srgan" and config.model.arch == "srresnet"):
        raise ConfigError(f"a {config.recipe} run {'of SRResNet ' if config.recipe == 'srgan' else ''}cannot be "
                          f"written as a {_TO.value} file")
    for field in ("input_skip", "keep_luminance", "bicubic_skip"):
        if config.model.get(field, False):
            raise ConfigError(f"this run's generator uses model.{field} (its output is tied to its input), which "
                              f"the reference code's networks cannot express")
    name = {"AtoB": "G_AB", "BtoA": "G_BA"}[_DIRECTION.value] if config.recipe == "cyclegan" else "G"
    state = torch_layouts.to_state_dict(variables[name], _layout(config), recipe.G, *_generator_inputs(recipe),
                                        train=False, instance_running_stats=config.recipe == "stargan")
    torch_file.save(out, {"params": state} if _TO.value == "basicsr" else state)     # BasicSR's save_network layout
    return f"the {name} generator of step {step} ({len(state)} tensors) to {out}"


def main(argv: list[str]) -> None:
    files = argv[1:]
    try:
        if (_FROM.value is None) == (_TO.value is None):
            raise ConfigError("give --from FORMAT FILE... --workdir NEW (import) or --to FORMAT --workdir RUN FILE "
                              f"(export); formats: {', '.join(FORMATS)}")
        if _WORKDIR.value is None:
            raise ConfigError("give --workdir")
        if _TO.value is not None:
            if len(files) != 1:
                raise ConfigError("give the one file to write")
            print(f"wrote {export(_WORKDIR.value, files[0])}")
            return
        if not files:
            raise ConfigError("give the file(s) to import")
        for path in files:
            if not Path(path).is_file():
                raise ConfigError(f"{path} not found")
        importer = {"stargan": import_stargan, "basicsr": import_basicsr}.get(_FROM.value, import_cyclegan_pix2pix)
        config = importer(files, Path(_WORKDIR.value))
        print(f"wrote {_WORKDIR.value} ({config.recipe} run); translate with: python infer.py --workdir "
              f"{_WORKDIR.value} --input IMAGES --output OUT")
    except UserError as e:
        sys.exit(f"error: {e}")


def entry() -> None:
    """The console command (``jaxgan-convert``; ``python -m jaxgan.convert`` runs it too)."""
    from jaxgan.cli import run_absl_app

    run_absl_app(main)


if __name__ == "__main__":
    entry()
