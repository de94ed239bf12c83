"""Generate images with a trained run: ``python infer.py --workdir runs/dcgan --output out/ --num 100``.

Writes ``sample_00000.png ...`` from the latest checkpoint (or ``--step``), in batches, with a progress
bar. Existing files are never overwritten unless ``--overwrite`` is given.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from absl import flags

_WORKDIR = flags.DEFINE_string("workdir", None, "A training run's workdir.")
_OUTPUT = flags.DEFINE_string("output", None, "Folder to write images into.")
_NUM = flags.DEFINE_integer("num", 64, "How many images to generate.", lower_bound=1)
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step (default: the latest).")
_BATCH = flags.DEFINE_integer("batch", 64, "Images per generator call.", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Noise seed.")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace existing output files.")
flags.mark_flags_as_required(["workdir", "output"])


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {' '.join(argv[1:])}")
    import jax
    import numpy as np
    from tqdm import tqdm

    from jaxgan.data.images import save_png, to_uint8
    from jaxgan.errors import UserError
    from jaxgan.inference import load_generator

    out = Path(_OUTPUT.value)
    names = [out / f"sample_{i:05d}.png" for i in range(_NUM.value)]
    existing = [p for p in names if p.exists()]
    if existing and not _OVERWRITE.value:
        sys.exit(f"error: {len(existing)} output file(s) already exist in {out} (e.g. {existing[0].name}); "
                 f"pass --overwrite to replace them")
    try:
        recipe, variables, step = load_generator(_WORKDIR.value, _STEP.value)
    except UserError as e:
        sys.exit(f"error: {e}")
    generate = jax.jit(recipe.generate)
    rng = jax.random.PRNGKey(_SEED.value)
    with tqdm(total=_NUM.value, unit="img", desc=f"step {step}", file=sys.stderr) as bar:
        for start in range(0, _NUM.value, _BATCH.value):
            count = min(_BATCH.value, _NUM.value - start)
            inputs = recipe.sample_inputs(jax.random.fold_in(rng, start), _BATCH.value)
            images = to_uint8(np.asarray(generate(variables, inputs))[:count])
            for i, image in enumerate(images):
                save_png(image, names[start + i])
            bar.update(count)
    print(f"wrote {_NUM.value} images to {out}")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from jaxgan.cli import run_absl_app

    run_absl_app(main)
