"""Full-state checkpoints with orbax: every network, optimiser state, step, RNG, host state, data position.

Orbax writes each checkpoint into a temporary folder and renames it when complete, so a crash (even
SIGKILL) mid-save never damages the last good one. Saves are asynchronous. A checkpoint holds one pytree,
``{"train": TrainState, "host": host state}`` (host state as one row per process, so every host gets its
own back), and a ``meta`` record: the data position, the config and a fingerprint of the tree (every
array's path, shape and dtype), so a checkpoint from another config is reported as such instead of
half-restored. Inference restores only the generators' variables.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import jax
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as preservation

from jaxgan.errors import CheckpointError, storage_failure

#: free space a save needs beyond the size of the newest checkpoint (the tree's bytes before there is one)
SPACE_MARGIN = 1.2


def _key_name(entry: Any) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(entry, attr):
            return str(getattr(entry, attr))
    return str(entry)


def fingerprint(tree: Any) -> dict[str, str]:
    """``{"train/nets/G/params/Conv_0/kernel": "float32[3, 3, 64, 128]"}`` for every array leaf (the same
    path whether a level is a dict or a dataclass)."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {"/".join(_key_name(e) for e in path): f"{leaf.dtype}{list(leaf.shape)}" for path, leaf in leaves}


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


class _KeptSteps:
    """An orbax preservation policy: keep the checkpoints of ``steps``, a set that may change while the
    manager runs (the milestones, and the best checkpoint so far)."""

    def __init__(self, steps: set[int]):
        self.steps = steps

    def should_preserve(self, checkpoints: Any, *, context: Any) -> list[bool]:
        return [info.step in self.steps for info in checkpoints]


class Checkpointer:
    """Saves and restores run states under ``<workdir>/checkpoints/<step>/``; keeps the last ``keep``, the
    milestones and the best (recorded in ``checkpoints/best.json`` by `record_best`)."""

    BEST = "best.json"

    def __init__(self, directory: str | Path, keep: int = 3, asynchronous: bool = True,
                 milestones: tuple[int, ...] = ()):
        """Keeps the last ``keep`` checkpoints and, always, those of the ``milestones`` steps and the best."""
        self.directory = Path(directory).absolute()
        self.milestones, self.keep = set(milestones), keep
        best = self.best()
        self._kept = _KeptSteps(self.milestones | ({best["step"]} if best else set()))
        policy = preservation.AnyPreservationPolicy([preservation.LatestN(keep), self._kept])
        options = ocp.CheckpointManagerOptions(preservation_policy=policy, enable_async_checkpointing=asynchronous,
                                               create=True)
        self.manager = ocp.CheckpointManager(self.directory, options=options, item_names=("state", "meta"))

    def best(self) -> dict[str, Any] | None:
        """The best checkpoint's record (``step``, ``figure``, ``value``, ``lower_is_better``), or None."""
        path = self.directory / self.BEST
        try:
            record = json.loads(path.read_text())
            return record if isinstance(record.get("step"), int) else None
        except (OSError, ValueError, AttributeError):
            return None

    def record_best(self, step: int, record: dict[str, Any]) -> None:
        """Marks the checkpoint of ``step`` (saved) as the best: written once that save is complete, kept
        from then on, and the previous best released to the usual keep-last rule."""
        with self._writing(step):
            self.manager.wait_until_finished()
        previous = self.best()
        if jax.process_index() == 0:
            path = self.directory / self.BEST
            tmp = path.with_name(f".{self.BEST}.tmp")
            tmp.write_text(json.dumps({**record, "step": step}, indent=2) + "\n")
            os.replace(tmp, path)
        self._kept.steps = self.milestones | {step}
        steps = sorted(self.all_steps())
        if previous and previous["step"] in steps[:-self.keep] and previous["step"] not in self._kept.steps:
            self.manager.delete(previous["step"])            # what the keep-last rule would have done already

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self.manager.all_steps())

    def save(self, step: int, tree: Any, meta: dict[str, Any]) -> None:
        """Saves ``tree`` (``{"train": ..., "host": ...}``) and ``meta`` asynchronously, if the disk has room
        for it (see `_writing`)."""
        meta = dict(meta, structure=fingerprint(tree))
        self._check_room(step, tree)
        with self._writing(step):
            self.manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(tree),
                                                            meta=ocp.args.JsonSave(meta)))

    def _check_room(self, step: int, tree: Any) -> None:
        """A `CheckpointError` before writing where the disk lacks `SPACE_MARGIN` x a checkpoint's size."""
        latest = self.latest_step()
        if latest is not None:
            size = sum(f.stat().st_size for f in (self.directory / str(latest)).rglob("*") if f.is_file())
        else:
            size = sum(leaf.nbytes for leaf in jax.tree.leaves(tree) if hasattr(leaf, "nbytes"))
        free = shutil.disk_usage(self.directory).free
        if free < SPACE_MARGIN * size:
            raise CheckpointError(f"no room for checkpoint {step} in {self.directory}: {free / 2**20:.1f} MiB free, "
                                  f"a checkpoint takes {size / 2**20:.1f} MiB; {self._kept_line()}. Free some space "
                                  f"and run the same command to resume")

    def _kept_line(self) -> str:
        steps = [int(p.name) for p in self.directory.iterdir() if p.name.isdigit()] if self.directory.is_dir() else []
        return f"the last good checkpoint is step {max(steps)} (kept)" if steps else "no checkpoint was written"

    @contextlib.contextmanager
    def _writing(self, step: int | None) -> Iterator[None]:
        """Orbax calls that write (or wait for an asynchronous write): a disk that fails them (full, read-only)
        is one `CheckpointError`; the half-written checkpoint's temporary folder is removed (it never counts as
        a checkpoint, and it frees the space it took)."""
        try:
            yield
        except Exception as e:  # orbax and tensorstore raise many types for a failed write
            words = storage_failure(e)
            if words is None:
                raise
            with contextlib.suppress(Exception):        # saves still in flight end (or fail) first
                self.manager.wait_until_finished()
            for partial in self.directory.glob("*.orbax-checkpoint-tmp*"):
                shutil.rmtree(partial, ignore_errors=True)
            which = f"checkpoint {step}" if step is not None else "a checkpoint"
            raise CheckpointError(f"could not write {which} to {self.directory}: {words}; {self._kept_line()}. "
                                  f"Fix the disk and run the same command to resume") from None

    def _checked_meta(self, step: int, target: Any, subset: bool) -> dict[str, Any]:
        where = self.directory / str(step)
        try:
            meta = self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
        except Exception as e:  # orbax raises many types for missing / truncated files
            raise CheckpointError(f"checkpoint {where} is damaged or incomplete ({type(e).__name__}); "
                                  f"delete it to resume from an earlier one, or use a new workdir") from None
        expected = fingerprint(target)
        saved = meta.get("structure", {})
        if subset:
            saved = {k: v for k, v in saved.items() if k in expected}
        if saved != expected:
            raise CheckpointError(f"checkpoint {where} does not match this config: "
                                  f"{_describe_mismatch(saved, expected)}. Use a new workdir for a new config")
        return meta

    def _restore(self, step: int, args: Any) -> Any:
        try:
            return self.manager.restore(step, args=ocp.args.Composite(state=args))["state"]
        except Exception as e:
            raise CheckpointError(f"checkpoint {self.directory / str(step)} is damaged or incomplete "
                                  f"({type(e).__name__}: {str(e).splitlines()[0][:200]}); delete it to resume "
                                  f"from an earlier one, or use a new workdir") from None

    def restore(self, step: int, target: Any) -> tuple[Any, dict[str, Any]]:
        """The whole tree, into the structure (and shardings) of ``target``; clear errors when it cannot."""
        meta = self._checked_meta(step, target, subset=False)
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
        return self._restore(step, ocp.args.StandardRestore(abstract)), meta

    def restore_subset(self, step: int, target: Any) -> Any:
        """Only the arrays ``target`` names (e.g. the generators' variables, nested as in the saved tree)."""
        self._checked_meta(step, target, subset=True)
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
        return self._restore(step, ocp.args.PyTreeRestore(
            abstract, restore_args=ocp.checkpoint_utils.construct_restore_args(abstract), partial_restore=True))

    def close(self) -> None:
        """Waits for the last asynchronous save (a failed one is a `CheckpointError`)."""
        try:
            with self._writing(None):
                self.manager.wait_until_finished()
        finally:
            with contextlib.suppress(Exception):
                self.manager.close()
