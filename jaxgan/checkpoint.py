"""Full-state checkpoints with orbax: every network, optimiser state, step, RNG and data position.

Orbax writes each checkpoint into a temporary folder and renames it when complete, so a crash (even
SIGKILL) mid-save never damages the last good one. Saves are asynchronous. Each checkpoint also holds a
``meta`` record: the data position and a fingerprint of the state's structure (every array's path, shape
and dtype), so a checkpoint from another config is reported as such instead of half-restored.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from jaxgan.errors import CheckpointError


def fingerprint(tree: Any) -> dict[str, str]:
    """``{"path/to/leaf": "float32[3, 3, 64, 128]"}`` for every array leaf."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {jax.tree_util.keystr(path): f"{leaf.dtype}{list(leaf.shape)}" for path, leaf in leaves}


def _describe_mismatch(saved: dict[str, str], expected: dict[str, str]) -> str:
    missing = sorted(set(expected) - set(saved))
    extra = sorted(set(saved) - set(expected))
    changed = sorted(k for k in set(saved) & set(expected) if saved[k] != expected[k])
    parts = []
    if changed:
        k = changed[0]
        parts.append(f"{len(changed)} array(s) differ in shape, e.g. {k}: checkpoint {saved[k]} vs config {expected[k]}")
    if missing:
        parts.append(f"{len(missing)} array(s) missing from the checkpoint, e.g. {missing[0]}")
    if extra:
        parts.append(f"{len(extra)} unexpected array(s), e.g. {extra[0]}")
    return "; ".join(parts)


class Checkpointer:
    """Saves and restores `TrainState`s under ``<workdir>/checkpoints/<step>/``; keeps the last ``keep``."""

    def __init__(self, directory: str | Path, keep: int = 3, asynchronous: bool = True):
        self.directory = Path(directory).absolute()
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, enable_async_checkpointing=asynchronous,
                                               create=True)
        self.manager = ocp.CheckpointManager(self.directory, options=options, item_names=("state", "meta", "host"))

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self.manager.all_steps())

    def save(self, step: int, state: Any, meta: dict[str, Any], host: dict[str, Any] | None = None) -> None:
        """Saves asynchronously; ``host`` is a recipe's host-side state (numpy arrays), if any."""
        meta = dict(meta, structure=fingerprint(state), has_host_state=bool(host))
        items = {"state": ocp.args.StandardSave(state), "meta": ocp.args.JsonSave(meta)}
        if host:
            items["host"] = ocp.args.StandardSave(host)
        self.manager.save(step, args=ocp.args.Composite(**items))

    def restore(self, step: int, target: Any) -> tuple[Any, dict[str, Any], dict[str, Any]]:
        """Restores into the structure (and shardings) of ``target``; clear errors when it cannot."""
        where = self.directory / str(step)
        try:
            meta = self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
        except Exception as e:  # orbax raises many types for missing / truncated files
            raise CheckpointError(f"checkpoint {where} is damaged or incomplete ({type(e).__name__}); "
                                  f"delete it to resume from an earlier one, or use a new workdir") from None
        expected = fingerprint(target)
        saved = meta.get("structure", {})
        if saved != expected:
            raise CheckpointError(f"checkpoint {where} does not match this config: "
                                  f"{_describe_mismatch(saved, expected)}. Use a new workdir for a new config")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
        items = {"state": ocp.args.StandardRestore(abstract)}
        if meta.get("has_host_state"):
            items["host"] = ocp.args.StandardRestore()
        try:
            restored = self.manager.restore(step, args=ocp.args.Composite(**items))
        except Exception as e:
            raise CheckpointError(f"checkpoint {where} is damaged or incomplete ({type(e).__name__}: "
                                  f"{str(e).splitlines()[0][:200]}); delete it to resume from an earlier "
                                  f"one, or use a new workdir") from None
        host = restored["host"] if meta.get("has_host_state") else {}
        return restored["state"], meta, host

    def wait(self) -> None:
        """Blocks until pending asynchronous saves are on disk."""
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.wait_until_finished()
        self.manager.close()
