"""Use a trained run.

Generate (noise-to-image recipes)::

    python infer.py --workdir runs/dcgan --output out/ --num 100

Translate (pix2pix, CycleGAN): every readable image under a file, folder or glob, at its own size::

    python infer.py --workdir runs/cyclegan --input photos/ --output out/ [--direction BtoA] [--batch 8]

Upscale (SRResNet / SRGAN): every readable image at its own size, in overlapping tiles of ``--tile``
LR pixels (bounded memory, seamless: the overlap covers the network's receptive field)::

    python infer.py --workdir runs/srgan --input photos/ --output out/ [--tile 256]

Outputs keep their names (and sub-folders); existing files are kept unless ``--overwrite``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from absl import flags

_WORKDIR = flags.DEFINE_string("workdir", None, "A training run's workdir.")
_OUTPUT = flags.DEFINE_string("output", None, "Folder to write images into.")
_INPUT = flags.DEFINE_string("input", None, "Translate: an image file, a folder (recursive) or a glob.")
_DIRECTION = flags.DEFINE_enum("direction", None, ["AtoB", "BtoA"], "Translate: direction (CycleGAN).")
_SIZE = flags.DEFINE_integer("size", None, "Translate: resize inputs to SIZE x SIZE (default: native).")
_TILE = flags.DEFINE_integer("tile", None, "Upscale: tile side in input pixels (default: the run's config.tile).",
                             lower_bound=1)
_NUM = flags.DEFINE_integer("num", 64, "Generate: how many images.", lower_bound=1)
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step (default: the latest).")
_BATCH = flags.DEFINE_integer("batch", None, "Images (upscaling: tiles) per generator call (default 64; "
                              "translation 8; upscaling 2).", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Generate: noise seed.")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace existing output files.")
flags.mark_flags_as_required(["workdir", "output"])


def generate(recipe, variables, step: int) -> None:
    import jax
    import numpy as np
    from tqdm import tqdm

    from jaxgan.data.images import save_png, to_uint8

    out, batch = Path(_OUTPUT.value), _BATCH.value or 64
    names = [out / f"sample_{i:05d}.png" for i in range(_NUM.value)]
    existing = [p for p in names if p.exists()]
    if existing and not _OVERWRITE.value:
        sys.exit(f"error: {len(existing)} output file(s) already exist in {out} (e.g. {existing[0].name}); "
                 f"pass --overwrite to replace them")
    run = jax.jit(recipe.generate)
    rng = jax.random.PRNGKey(_SEED.value)
    with tqdm(total=_NUM.value, unit="img", desc=f"step {step}", file=sys.stderr) as bar:
        for start in range(0, _NUM.value, batch):
            count = min(batch, _NUM.value - start)
            images = to_uint8(np.asarray(run(variables, recipe.sample_inputs(jax.random.fold_in(rng, start), batch))))
            for i, image in enumerate(images[:count]):
                save_png(image, names[start + i])
            bar.update(count)
    print(f"wrote {_NUM.value} images to {out}")


def upscaler(recipe, variables):
    """Super-resolution: one image per call, tiled (checks the flags that do not apply)."""
    if _SIZE.value or _DIRECTION.value:
        sys.exit("error: --size and --direction do not apply to super-resolution (images are upscaled at "
                 "their own size)")
    tile = _TILE.value or recipe.config.tile
    if tile <= 2 * recipe.receptive_radius:
        sys.exit(f"error: --tile must exceed twice the network's receptive radius ({recipe.receptive_radius} "
                 f"pixels), got {tile}")
    return lambda x: recipe.upscale(variables, x[0], tile, _BATCH.value or 2)[None]


def translate(recipe, variables) -> None:
    import jax

    from jaxgan.batch_translate import collect_inputs, translate_files

    items = collect_inputs(_INPUT.value)
    if not items:
        sys.exit(f"error: no files match {_INPUT.value!r}")
    if recipe.scale > 1:
        run_batch, batch = upscaler(recipe, variables), 1
    else:
        if _TILE.value:
            sys.exit("error: --tile is for super-resolution runs (their receptive field is bounded)")
        try:
            run = jax.jit(lambda v, x: recipe.translate(v, x, _DIRECTION.value))
            jax.eval_shape(run, variables, jax.ShapeDtypeStruct(
                (1, recipe.size_multiple, recipe.size_multiple, recipe.config.data.channels), "float32"))
        except ValueError as e:
            sys.exit(f"error: {e}")
        run_batch, batch = (lambda x: run(variables, x)), _BATCH.value or 8
    report = translate_files(run_batch, items, Path(_OUTPUT.value), recipe.config.data.channels,
                             recipe.size_multiple, batch, _SIZE.value, _OVERWRITE.value, recipe.scale)
    for path in report.unreadable:
        print(f"skipped unreadable file: {path}", file=sys.stderr)
    if report.kept_existing:
        print(f"kept {report.kept_existing} existing output(s); pass --overwrite to replace them", file=sys.stderr)
    seconds = max(report.seconds, 1e-9)
    print(f"translated {report.translated} image(s) into {_OUTPUT.value} ({report.translated / seconds:.2f} img/s, "
          f"{report.output_pixels / seconds / 1e6:.3f} output megapixels/s); {len(report.unreadable)} unreadable")
    if report.translated == 0:
        sys.exit(1)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {' '.join(argv[1:])}")
    from jaxgan.errors import UserError
    from jaxgan.inference import load_generator

    try:
        recipe, variables, step = load_generator(_WORKDIR.value, _STEP.value)
    except UserError as e:
        sys.exit(f"error: {e}")
    translates = hasattr(recipe, "translate")
    if _INPUT.value is not None:
        if not translates:
            sys.exit("error: this run generates from noise; --input is for translation and super-resolution runs")
        translate(recipe, variables)
    else:
        if translates:
            sys.exit("error: this run translates images; give --input FILE|FOLDER|GLOB")
        generate(recipe, variables, step)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from jaxgan.cli import run_absl_app

    run_absl_app(main)
