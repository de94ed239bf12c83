"""Prepare a data set once for fast training: ``python -m jaxgan.prepare --config CONFIG [--config.x=...] OUT``.

Reads the data the config names (a folder of any layout, TFDS, an embedded set), decoded and resized as
training reads it (the recipe's load size and evaluation size, for the training split and the held-out
one where it exists; images at their own size, as super-resolution reads them, cut into tiles that
overlap by the recipe's crop), and writes it to OUT (see `jaxgan.data.prepared`). Then train with
``--config.data.source=prepared --config.data.path=OUT`` and the same size fields::

    python -m jaxgan.prepare --config configs/dcgan.py --config.data.source=folder \\
        --config.data.path=/data/celeba --config.image_size=64 --config.data.channels=3 /data/celeba-64
    python train.py --config configs/dcgan.py --config.data.source=prepared --config.data.path=/data/celeba-64 \\
        --config.image_size=64 --config.data.channels=3 --workdir runs/celeba

``--verify OUT`` checks every shard of a prepared set against its manifest's SHA-256.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from absl import flags
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "A shipped config by name (dcgan, cyclegan:paper, ...) or a "
                                          "config file (configs/dcgan.py).",
                                          lock_config=True)
_ENCODING = flags.DEFINE_enum("encoding", "raw", ["raw", "png"], "How images are stored: raw pixels (fastest to "
                              "read) or PNG (smaller on disk, decoded when read).")
_TILE = flags.DEFINE_integer("tile", 0, "Images at their own size: tile side in pixels (0: 4 x the recipe's crop).",
                             lower_bound=0)
_SPLITS = flags.DEFINE_list("splits", None, "Splits to prepare (default: data.split and data.eval_split).")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an existing prepared set at OUT.")
_VERIFY = flags.DEFINE_bool("verify", False, "Check the shards of the prepared set at OUT and stop.")


def _entries(config, splits: list[str]) -> list[tuple]:
    """``(split, size, source, window)`` for every split and size the config's recipe reads."""
    from jaxgan import recipes
    from jaxgan.data.registry import has_held_out, make_source
    from jaxgan.errors import DataError

    spec = recipes.build(config).data_spec
    if not has_held_out(config.data):
        splits = [s for s in splits if s != config.data.eval_split]
    wanted = [(config.data.split, spec.load_size)] + [(split, spec.eval_size) for split in splits]
    entries = []
    for split, size in dict.fromkeys(w for w in wanted if w[0] in splits):
        try:
            source = make_source(config, split, size)
        except DataError as e:
            if split == config.data.split:
                raise
            print(f"no split {split!r} to prepare: {e}")
            continue
        entries.append((split, size, source, spec.window if not size else None))
    return entries


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        sys.exit("error: name the folder to write the prepared set into (one argument after the flags)")
    out = Path(argv[1])
    from jaxgan.errors import UserError

    try:
        if _VERIFY.value:
            from jaxgan.data.prepared import verify

            bad = verify(out)
            print("\n".join(bad) if bad else f"{out}: every shard matches its checksum")
            sys.exit(1 if bad else 0)
        if _CONFIG.value is None:
            sys.exit("error: --config is required")
        _prepare(_CONFIG.value, out)
    except UserError as e:
        sys.exit(f"error: {e}")
    except KeyboardInterrupt:
        sys.exit(f"error: stopped; nothing was written to {out}")


def _prepare(config, out: Path) -> None:
    import time

    from tqdm import tqdm

    from jaxgan import config as config_lib
    from jaxgan import data
    from jaxgan.data import prepared
    from jaxgan.data.registry import layout_of
    from jaxgan.data.sources import UnpairedSource
    from jaxgan.errors import DataError

    if out.exists() and not _OVERWRITE.value:
        raise DataError(f"{out} exists; choose another folder or pass --overwrite")
    config_lib.validate(config)
    config = data.resolve(config)
    splits = _SPLITS.value or list(dict.fromkeys([config.data.split, config.data.eval_split]))
    entries = _entries(config, splits)
    total = sum(s.a.num + s.b.num if isinstance(s, UnpairedSource) else s.num for _, _, s, _ in entries)
    start = time.perf_counter()
    with tqdm(total=total, unit="img", disable=None, desc=f"preparing {out.name}") as bar:
        manifest = prepared.prepare(config, out, entries, layout_of(config.data), _ENCODING.value, _TILE.value, bar)
    size = sum(s["bytes"] for e in manifest["entries"].values() for s in e["shards"])
    for name, entry in manifest["entries"].items():
        print(f"{name}: {entry['num']} examples, {len(entry['shards'])} shards"
              + (f", {entry['skipped_count']} unreadable skipped" if entry["skipped_count"] else ""))
    print(f"wrote {out} ({size / 2**20:.1f} MiB) in {time.perf_counter() - start:.1f} s; train with "
          f"--config.data.source=prepared --config.data.path={out}")


def entry() -> None:
    """The console command (``jaxgan-prepare``; ``python -m jaxgan.prepare`` runs it too)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from jaxgan.cli import run_absl_app

    run_absl_app(main)


if __name__ == "__main__":
    entry()
