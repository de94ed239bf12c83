"""The recipe-agnostic training loop: resume, step, log, sample, evaluate, checkpoint, stop.

`run(config, workdir)` is all `train.py` calls. The recipe's step function (its jitted updates: state
replicated and donated, batch sharded over the device mesh) is called with each step's number, or, with
``steps_per_dispatch`` > 1, runs of consecutive steps of the recipe's pure `update` go to the device as
one jitted loop (moving average and metric sums included), each run ending where the host has work; the host
waits on the device only at log, sample, evaluation and checkpoint steps (and where a recipe's host
state needs device results, e.g. CycleGAN's image pools). A NaN/inf loss stops the run (naming the first bad step)
without checkpointing the bad state, so the last good checkpoint survives.
"""
from __future__ import annotations

import fcntl
import functools
import json
import logging
import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan import config as config_lib
from jaxgan import data, hosts, parallel, recipes
from jaxgan.checkpoint import Checkpointer
from jaxgan.errors import CheckpointError, ConfigError, TrainingError, TrainingStopped, storage_failure
from jaxgan.metrics import feature_networks, image_sets, run_scores
from jaxgan.parallel import BATCH, REPLICATED, STEP_BATCHES
from jaxgan.reporting import Reporter, library_messages_to, summary_line
from jaxgan.recipes.base import counted
from jaxgan.state import update_ema

log = logging.getLogger(__name__)


def _accumulate(acc: dict[str, Any], metrics: dict[str, jax.Array], step: jax.Array) -> dict[str, Any]:
    """Sums metrics over a log interval and records the first step with a non-finite value."""
    finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in metrics.values()]))
    bad = jnp.where((acc["first_bad_step"] < 0) & ~finite, step, acc["first_bad_step"])
    sums = {k: acc["sums"][k] + v.astype(jnp.float32) for k, v in metrics.items()}
    return {"sums": sums, "count": acc["count"] + 1, "first_bad_step": bad}


def _empty_acc(metrics_shape: dict[str, Any]) -> dict[str, Any]:
    return {"sums": {k: jnp.zeros((), jnp.float32) for k in metrics_shape}, "count": jnp.zeros((), jnp.int32),
            "first_bad_step": jnp.full((), -1, jnp.int32)}


class Trainer:
    """Holds a run's compiled functions, device state and host state; `fit` trains to ``config.num_steps``.

    The trainer owns the step: it hands each iteration's number to the recipe's step function, and holds
    and checkpoints the recipe's host state (each host its own)."""

    def __init__(self, config: ml_collections.ConfigDict, workdir: str | Path,
                 devices: list[jax.Device] | None = None):
        config_lib.validate(config)
        self.workdir = Path(workdir)
        recorded = self.workdir / "config.json"
        # e.g. a domain folder's names or the captions' vocabulary, recorded with the run (and kept on resume)
        config = data.resolve(config, config_lib.load_json(recorded) if recorded.exists() else None)
        parallel.initialize_distributed(float(config.host_timeout_s))
        self.mesh = parallel.make_mesh(devices)
        parallel.check_batch_size(config.batch_size, self.mesh)
        self.start_step = self.step_number = finished_step(self.workdir) or 0
        self.config, self.changes = _resumed_config(config, self.workdir, self.start_step)
        self.is_chief = jax.process_index() == 0
        self.recipe = recipes.build(self.config)
        if self.config.steps_per_dispatch > 1 and self.recipe.update(1) is None:
            raise ConfigError(f"config.steps_per_dispatch={self.config.steps_per_dispatch}: recipe {self.config.recipe} "
                              f"needs the host between the updates of each step (one step per dispatch); set it to 1")
        if self.config.evaluate:                        # an evaluator without its data field: now, not at the end
            fields = data.eval_fields(self.config, self.recipe.data_spec)
            if fields is not None:
                self.recipe.check_evaluation_fields(fields)
        frozen = {name: net.load() for name, net in self.recipe.frozen_networks().items()}
        self.scorer = self._make_scorer(self.config)
        created = not self.workdir.exists()
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
            self._lock = _lock_workdir(self.workdir) if self.is_chief else None
        except OSError as e:
            raise TrainingError(f"cannot write to the workdir {self.workdir}: {storage_failure(e) or e}") from None
        host_log = self.workdir / f"host_{jax.process_index()}.log"
        library_messages_to(host_log)                   # orbax's, absl's... records: the workdir, not the terminal
        self.peers = hosts.Peers.of_this_run(float(self.config.host_timeout_s), self.workdir,
                                             lambda: finished_step(self.workdir))
        self.heartbeats = None
        if self.peers is not None:                      # several hosts: native messages to the host's log too
            hosts.native_messages_to(host_log)
            self.heartbeats = hosts.Heartbeats(self.peers, lambda: self.step_number)
        try:
            self._start(self.config, frozen)
        except BaseException:
            _unlock(self._lock)
            if created and self.is_chief:           # a run that never started leaves nothing behind
                (self.workdir / ".lock").unlink(missing_ok=True)
                if not any(self.workdir.iterdir()):
                    self.workdir.rmdir()
            raise

    def _start(self, config: ml_collections.ConfigDict, frozen: dict[str, Any]) -> None:
        self.batches = data.train_batches(config, self.recipe.data_spec, self.recipe.examples_per_row,
                                          self.start_step, jax.process_index(), jax.process_count(),
                                          self.workdir if self.is_chief else None)
        self._pending: dict[str, np.ndarray] | None = next(self.batches)
        self.checkpointer = Checkpointer(self.workdir / "checkpoints", config.keep_checkpoints,
                                         milestones=self.recipe.milestones)
        init = parallel.jit_sharded(self.recipe.init_state, self.mesh, (REPLICATED, BATCH), REPLICATED)
        with jax.set_mesh(self.mesh):
            self.state = init(jax.random.PRNGKey(config.seed), self._global(self._pending))
        self.host = self.recipe.init_host_state(self._pending)
        if self.start_step:
            self._resume()
        if self.is_chief:
            config_lib.save_json(config, self.workdir / "config.json")
        self.frozen = jax.device_put(frozen, parallel.replicated(self.mesh))
        self.step_fn = self.recipe.make_step(self.mesh, self.frozen)
        self._loops: dict[tuple[Any, int], Any] = {}      # (update, steps) -> its jitted loop
        self.average = None
        if config.ema_decay:
            self.average = parallel.jit_sharded(functools.partial(update_ema, decay=float(config.ema_decay)),
                                                self.mesh, (REPLICATED,), REPLICATED, donate_argnums=0)
        self.accumulate = parallel.jit_sharded(_accumulate, self.mesh, (REPLICATED, REPLICATED, REPLICATED),
                                               REPLICATED, donate_argnums=0)
        examples = None
        if self.recipe.needs_examples:
            spec = self.recipe.data_spec
            examples = data.eval_arrays(config, spec, config.data.eval_split, config.num_samples) \
                or data.eval_arrays(config, spec, config.data.split, config.num_samples)
        self.sample_inputs = self.recipe.sample_inputs(jax.random.PRNGKey(config.seed + 1), config.num_samples,
                                                       examples)
        self._sample_grid = jax.jit(self.recipe.sample_grid)

    def _make_scorer(self, config: ml_collections.ConfigDict) -> run_scores.RunScorer | None:
        """The sample metrics of ``config.eval`` (built at start, so a missing weights file or unlabelled
        data stops the run before training rather than at its first evaluation)."""
        e = config.eval
        self.eval_limit = 2000
        if not (config.evaluate and e.metrics):
            return None
        metrics = image_sets.parse_metrics(e.metrics)
        self.eval_limit = run_scores.real_limit(int(e.num_images))
        train = None
        if e.features == "classifier":
            train = data.eval_arrays(config, self.recipe.data_spec, config.data.split, self.eval_limit)
        network = feature_networks.build(e.features, train, config.seed, e.inception_weights,
                                         fid_mode=e.fid_mode)
        self.best_figure = run_scores.best_figure(metrics, e.best)
        return run_scores.RunScorer(self.recipe, metrics, network, int(e.num_images), config.seed,
                                    run_scores.data_key(config, int(e.num_images)))

    def _resume(self) -> None:
        """Restores the newest checkpoint; a config changed since then is refused where the checkpoint
        cannot hold it (shapes), else accepted, reported and recorded in ``config_changes.jsonl``."""
        changed = config_lib.describe(self.changes)
        try:
            tree, meta = self.checkpointer.restore(self.start_step, self._checkpoint_tree())
        except CheckpointError as e:
            message = f"{e} (changed since that checkpoint: {changed})" if self.changes else str(e)
            raise CheckpointError(message) from None
        self.state, self.host = tree["train"], parallel.host_state_from_global(tree["host"])
        log.info("resumed from step %d (data position %s)", self.start_step, meta.get("data_position"))
        if self.changes and self.is_chief:
            log.warning("resuming with a changed config: %s (recorded in %s)", changed,
                        self.workdir / "config_changes.jsonl")
            record = {"step": self.start_step, "changes": {k: list(v) for k, v in self.changes.items()}}
            with open(self.workdir / "config_changes.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")

    def _global(self, local: dict[str, np.ndarray]) -> dict[str, jax.Array]:
        return parallel.global_batch(local, self.mesh)

    def _checkpoint_tree(self) -> dict[str, Any]:
        return {"train": self.state, "host": parallel.host_state_to_global(self.host, self.mesh)}

    def step(self, local: dict[str, np.ndarray] | None = None) -> dict[str, jax.Array]:
        """Runs the next iteration (every D and G update of step ``step_number + 1``) on this host's slice
        of the next batch of the input stream, or on ``local`` (a benchmark's in-memory batch); returns its
        metrics as device arrays (reading them waits for the device)."""
        if local is None:
            local = self._next_local()
        self.step_number += 1
        with jax.set_mesh(self.mesh):
            self.state, self.host, metrics = self.step_fn(self.step_number, self.state, self._global(local),
                                                          self.host)
            if self.average is not None:
                self.state = self.average(self.state)
        return metrics

    def _next_local(self) -> dict[str, np.ndarray]:
        local = self._pending if self._pending is not None else next(self.batches)
        self._pending = None
        return local

    def host_work(self, step: int, stop_step: int | None = None) -> dict[str, bool]:
        """What the host does once step ``step`` has run: ``log`` (read the metrics back), ``samples``,
        ``checkpoint``, ``evaluate``, and ``stop`` (the agreed stop step of `hosts.StopRequests`). The one
        rule of both `dispatch_length` and `fit`."""
        cfg = self.config
        last = step == cfg.num_steps
        stop = stop_step is not None and step >= stop_step
        return {"log": step % cfg.log_every == 0 or last or step % cfg.checkpoint_every == 0,
                "samples": step % cfg.sample_every == 0 or last,
                "checkpoint": step % cfg.checkpoint_every == 0 or last or step in self.recipe.milestones or stop,
                "evaluate": bool(cfg.evaluate) and (last or (bool(cfg.eval_every) and step % cfg.eval_every == 0
                                                            and not stop)),
                "stop": stop}

    def dispatch_length(self, stop_step: int | None = None) -> int:
        """How many steps the next dispatch runs: up to ``steps_per_dispatch``, of one update, ending at the
        first step the host has work at (`host_work`)."""
        step, first = self.step_number, self.recipe.update(self.step_number + 1)
        length = 1
        while (length < int(self.config.steps_per_dispatch) and not any(self.host_work(step + length, stop_step).values())
               and self.recipe.update(step + length + 1) == first):
            length += 1
        return length

    def advance(self, steps: int, acc: dict[str, Any] | None) -> dict[str, Any]:
        """Runs the next ``steps`` steps (one dispatch) and adds their metrics to ``acc`` (None: start a
        log interval's sums)."""
        if steps == 1:
            metrics = self.step()
            acc = acc if acc is not None else _empty_acc(metrics)
            return self.accumulate(acc, metrics, jnp.int32(self.step_number))
        update = self.recipe.update(self.step_number + 1)
        if (update, steps) not in self._loops:
            self._loops[update, steps] = self._step_loop(update, steps)
        batches = [self._next_local() for _ in range(steps)]
        if acc is None:
            rows = {k: jax.ShapeDtypeStruct((v.shape[0] * jax.process_count(),) + v.shape[1:], v.dtype)
                    for k, v in batches[0].items()}
            acc = _empty_acc(jax.eval_shape(update, self.state, rows, self.frozen)[1])
        stacked = parallel.global_batch({k: np.stack([b[k] for b in batches]) for k in batches[0]}, self.mesh,
                                        STEP_BATCHES)
        with jax.set_mesh(self.mesh):
            self.state, acc = self._loops[update, steps](self.state, stacked, self.frozen, acc,
                                                         jnp.int32(self.step_number + 1))
        self.step_number += steps
        return acc

    def _step_loop(self, update: Any, steps: int) -> Any:
        """``steps`` consecutive steps of ``update`` as one jitted `lax.scan` over their stacked batches,
        with the moving average and `_accumulate` of each step inside. Unrolled on CPU, where XLA runs a
        loop body's convolutions and matrix products far slower than the same code outside a loop
        (DCGAN at 32x32, batch 64: 2.0 s/step in a 4-step loop, 0.11 s unrolled or one step per dispatch)."""
        decay = float(self.config.ema_decay)
        unroll = self.mesh.devices.flat[0].platform == "cpu"

        def loop(state: Any, batches: Any, frozen: Any, acc: Any, first: jax.Array) -> tuple[Any, Any]:
            def one(carry: Any, xs: Any) -> tuple[Any, None]:
                (state, acc), (batch, number) = carry, xs
                state, metrics = counted(update)(state, batch, frozen)
                if decay:
                    state = update_ema(state, decay=decay)
                return (state, _accumulate(acc, metrics, number)), None

            numbers = first + jnp.arange(steps, dtype=jnp.int32)
            return jax.lax.scan(one, (state, acc), (batches, numbers), unroll=unroll)[0]

        return parallel.jit_sharded(loop, self.mesh, (REPLICATED, STEP_BATCHES, REPLICATED, REPLICATED, REPLICATED),
                                    (REPLICATED, REPLICATED), donate_argnums=(0, 3))

    def sample_grid(self) -> np.ndarray:
        """The fixed sample inputs through the current generator(s) (numpy, [-1, 1])."""
        return np.asarray(self._sample_grid(self.recipe.generator_variables(self.state), self.sample_inputs))

    def evaluate(self, step: int, reporter: Reporter) -> dict[str, float]:
        cfg = self.config
        train = data.eval_arrays(cfg, self.recipe.data_spec, cfg.data.split, self.eval_limit)
        held_out = data.eval_arrays(cfg, self.recipe.data_spec, cfg.data.eval_split, self.eval_limit)
        variables = self.recipe.generator_variables(self.state)
        results = self.recipe.evaluate(variables, train, held_out)
        if self.scorer is not None:
            results = {**results, **self.scorer(variables, train, held_out)}
        if results:
            reporter.scalars(step, results, prefix="eval")
            reporter.message(f"eval @ step {step}: {summary_line(results)}")
        return results

    def _save(self, step: int) -> None:
        position = step * self.config.batch_size * self.recipe.examples_per_row
        self.checkpointer.save(step, self._checkpoint_tree(),
                               {"step": step, "data_position": position,
                                "config": json.loads(self.config.to_json_best_effort())})

    def fit(self) -> dict[str, Any]:
        """Trains from the current step to ``num_steps``; returns the last logged metrics and evaluation."""
        cfg = self.config
        reporter = Reporter(self.workdir, cfg.num_steps, self.start_step, cfg.batch_size, self.is_chief)
        result: dict[str, Any] = {"start_step": self.start_step, "eval": {}}
        acc = None
        last_saved = self.start_step
        stop = hosts.StopRequests(reporter.message, self.peers, ahead=int(cfg.steps_per_dispatch))
        if self.heartbeats is not None:
            self.heartbeats.stop = stop
        try:
            while self.step_number < cfg.num_steps:
                stop_step = stop.stop_step(self.step_number)     # several hosts: the step all stop after
                if stop_step is not None and self.step_number >= stop_step:     # reached between dispatches
                    if last_saved != self.step_number:
                        self._save(self.step_number)
                    raise TrainingStopped(f"stopped at step {self.step_number} (checkpoint saved); run the same "
                                          f"command to resume")
                before = self.step_number
                acc = self.advance(self.dispatch_length(stop_step), acc)
                step = self.step_number
                reporter.advance(step - before)
                work = self.host_work(step, stop.stop_step(step))
                if work["log"]:
                    values = self._drain(acc, step, last_saved)
                    acc = None
                    values["images_per_second"] = reporter.throughput(step)
                    reporter.scalars(step, values)
                    result["metrics"] = values
                if work["samples"]:
                    reporter.image_grid(step, "samples", self.sample_grid())
                if work["checkpoint"]:              # before evaluating: a failing evaluation loses no training
                    self._save(step)
                    last_saved = step
                results = self.evaluate(step, reporter) if work["evaluate"] else {}
                if step == cfg.num_steps:
                    result["eval"] = results
                best = self._improved_best(results)
                if best:
                    if not work["checkpoint"]:
                        self._save(step)
                        last_saved = step
                    self.checkpointer.record_best(step, best)
                    reporter.message(f"best checkpoint so far: step {step} ({best['figure']} {best['value']:.6g})")
                if work["stop"]:
                    raise TrainingStopped(f"stopped at step {step} (checkpoint saved); run the same command to "
                                          f"resume")
        except jax.errors.JaxRuntimeError as e:
            if self.heartbeats is not None:      # a collective failed: a host is probably lost
                self.heartbeats.verdict(e)
            raise
        except OSError as e:                     # a log, sample grid or record that could not be written
            words = storage_failure(e)
            if words is None:
                raise
            step = finished_step(self.workdir)
            kept = f"the last good checkpoint is step {step} (kept)" if step is not None else "no checkpoint was written"
            raise TrainingError(f"cannot write {e.filename or 'to the workdir'}: {words}; {kept}. Fix the disk and run "
                                f"the same command to resume") from None
        finally:
            stop.restore()
            self.close()
            reporter.close()
        return result

    def _improved_best(self, results: dict[str, float]) -> dict[str, Any] | None:
        """The best-checkpoint record for ``results`` where its figure beats the recorded best, else None."""
        if self.scorer is None:
            return None
        figure, lower = self.best_figure
        if figure not in results:
            return None
        value, best = float(results[figure]), self.checkpointer.best()
        if best is not None and best.get("figure") == figure:
            if not (value < best["value"] if lower else value > best["value"]):
                return None
        return {"figure": figure, "value": value, "lower_is_better": lower}

    def close(self) -> None:
        """Waits for pending checkpoint writes and releases the workdir (and, on several hosts, tells the
        others this host is done)."""
        self.checkpointer.close()
        if self.heartbeats is not None:
            self.heartbeats.close()
        _unlock(self._lock)
        self._lock = None

    def _drain(self, acc: dict[str, Any], step: int, last_saved: int) -> dict[str, float]:
        """Host sync: mean metrics of the interval; raises `TrainingError` on a non-finite loss."""
        acc = jax.device_get(acc)
        bad = int(acc["first_bad_step"])
        if bad >= 0:
            kept = f"the last good checkpoint (step {last_saved}) is kept" if last_saved else "no checkpoint was written"
            raise TrainingError(f"non-finite loss at step {bad}; stopping ({kept}). Lower the learning rate "
                                f"or check the data")
        count = max(int(acc["count"]), 1)
        return {k: float(v) / count for k, v in acc["sums"].items()}


def _lock_workdir(workdir: Path) -> Any:
    """An exclusive lock on ``workdir`` for this run (released when the process ends, however it ends)."""
    handle = open(workdir / ".lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        owner = handle.read().strip() or "unknown"
        handle.close()
        raise TrainingError(f"{workdir} is in use by another training run (pid {owner}); wait for it to finish, "
                            f"or use another --workdir") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _unlock(handle: Any) -> None:
    if handle is not None:
        handle.close()                   # closing the file releases the flock


def finished_step(workdir: str | Path) -> int | None:
    """The step of the newest checkpoint in ``workdir`` (orbax renames a checkpoint into place when it is
    complete, so a step-named folder is a whole one), or None."""
    folder = Path(workdir) / "checkpoints"
    steps = [int(p.name) for p in folder.iterdir() if p.name.isdigit()] if folder.is_dir() else []
    return max(steps, default=None)


def _resumed_config(config: ml_collections.ConfigDict, workdir: Path, step: int
                    ) -> tuple[ml_collections.ConfigDict, dict[str, tuple[Any, Any]]]:
    """The config to resume ``workdir`` at ``step`` with (`config.resumed`), and what differs from the
    config the run recorded."""
    recorded_path = workdir / "config.json"
    if not step or not recorded_path.exists():
        return config, {}
    recorded = config_lib.load_json(recorded_path)
    return config_lib.resumed(recorded, config, step), config_lib.differences(recorded, config)


def run(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    """Trains (or resumes) the run in ``workdir`` to ``config.num_steps``; a run already there says so."""
    done = finished_step(workdir)
    if done is not None and done >= config.num_steps:
        log.info("%s is already trained to step %d (config.num_steps=%d): nothing to do; raise "
                 "--config.num_steps to train longer", workdir, done, config.num_steps)
        return {"start_step": done}
    return Trainer(config, workdir).fit()


def train(config: ml_collections.ConfigDict | str, workdir: str | Path, **overrides: Any) -> dict[str, Any]:
    """Trains (or resumes) a run from Python, as ``jaxgan-train`` does: ``config`` is a config or a
    shipped config's name (``"dcgan"``, ``"cyclegan:paper"``), ``overrides`` set its fields (``num_steps=200``;
    dotted ones as ``**{"data.path": "/data/faces"}``). Returns the run's summary: ``start_step``, the
    last logged ``metrics`` and the final evaluation's figures, ``eval``."""
    from jaxgan.cli import use_compile_cache

    if isinstance(config, str):
        name, _, variant = config.partition(":")
        config = config_lib.shipped_config(name, variant)
    else:
        config = ml_collections.ConfigDict(config.to_dict())
    config.lock()                                       # an unknown field is an error, not a new field
    for field, value in overrides.items():
        try:
            config_lib.set_field(config, field, value)
        except (AttributeError, KeyError, TypeError) as e:
            raise ConfigError(f"config field {field}={value!r}: {e}") from None
    use_compile_cache(config.get("compile_cache", "auto"))
    return run(config, workdir)
