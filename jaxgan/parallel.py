"""Device mesh, shardings, the one jit helper, multi-host start-up, global-batch and host-state assembly."""
from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jaxgan import hosts
from jaxgan.errors import ConfigError

BATCH_AXIS = "data"
REPLICATED = P()             # parameters, optimiser state, metrics: a full copy on every device
BATCH = P(BATCH_AXIS)        # batches: split over the devices along the leading (batch) axis
STEP_BATCHES = P(None, BATCH_AXIS)   # several steps' batches stacked: split along their batch axis


def initialize_distributed(host_timeout_s: float = 60.0) -> None:
    """Joins the multi-host job when the usual cluster variables are set; a no-op on one host. JAX's own
    detection of a lost host (which aborts the process) is set well after ``host_timeout_s``, the
    trainer's (`jaxgan.hosts`), which ends the job cleanly first.

    SLURM, Open MPI and TPU pods are detected by `jax.distributed.initialize`; elsewhere set
    ``JAX_COORDINATOR_ADDRESS`` (host:port of process 0), ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``
    (0 .. n-1) on every process. A start-up it cannot complete is one `ConfigError` line."""
    if not hosts.several_hosts_launch() or jax.distributed.is_initialized():
        return
    explicit = {arg: _int_variable(var) for arg, var in (("num_processes", "JAX_NUM_PROCESSES"),
                                                          ("process_id", "JAX_PROCESS_ID")) if os.environ.get(var)}
    try:
        late = int(max(100, 3 * host_timeout_s))
        jax.distributed.initialize(**explicit, heartbeat_timeout_seconds=late,
                                   shutdown_timeout_seconds=int(max(30, host_timeout_s)))
    except ValueError as e:
        raise ConfigError(f"cannot join the multi-host job ({e}); outside SLURM, Open MPI and TPU pods set "
                          f"JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and JAX_PROCESS_ID on every process") from None


def _int_variable(name: str) -> int:
    value = os.environ[name]
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {value!r}") from None


def make_mesh(devices: list[jax.Device] | None = None) -> Mesh:
    """A one-axis data-parallel mesh over ``devices`` (default: every device of every host)."""
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices), (BATCH_AXIS,), axis_types=(jax.sharding.AxisType.Auto,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, REPLICATED)


def jit_sharded(fn: Callable[..., Any], mesh: Mesh, in_specs: Sequence[Any], out_specs: Any,
                donate_argnums: int | tuple[int, ...] = (), static_argnames: tuple[str, ...] = ()
                ) -> Callable[..., Any]:
    """`jax.jit` of ``fn`` with every argument and output placed on ``mesh`` by a spec (`REPLICATED` or
    `BATCH`, or a pytree of them). Every jitted function of a run goes through here, so sharding work
    touches one place."""
    def shardings(specs: Any) -> Any:
        return jax.tree.map(lambda s: NamedSharding(mesh, s), specs, is_leaf=lambda x: isinstance(x, P))

    return jax.jit(fn, in_shardings=shardings(tuple(in_specs)), out_shardings=shardings(out_specs),
                   donate_argnums=donate_argnums, static_argnames=static_argnames)


def check_batch_size(batch_size: int, mesh: Mesh) -> None:
    """Raises a clear error when the global batch cannot be split evenly over the mesh's devices."""
    n = mesh.devices.size
    if batch_size % n:
        raise ConfigError(f"batch_size={batch_size} must be a multiple of the {n} devices")


def global_batch(local: dict[str, np.ndarray], mesh: Mesh, spec: P = BATCH) -> dict[str, jax.Array]:
    """Assembles each host's slice of the batch into global arrays sharded on the batch axis (`BATCH`,
    or `STEP_BATCHES` for several steps' batches stacked)."""
    sharding = NamedSharding(mesh, spec)
    return {k: jax.make_array_from_process_local_data(sharding, v) for k, v in local.items()}


def constrain_batch(x: Any) -> Any:
    """Inside a jitted step: keep ``x`` (e.g. sampled noise) sharded on its batch axis, if a mesh is set."""
    mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty or BATCH_AXIS not in mesh.axis_names:
        return x
    return jax.lax.with_sharding_constraint(x, P(BATCH_AXIS))


def batch_shards() -> int:
    """Inside a jitted step: how many devices the batch axis is split over (1 where no mesh is set), so
    that shape-based choices can see one device's share of the global batch."""
    mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty or BATCH_AXIS not in mesh.axis_names:
        return 1
    return mesh.shape[BATCH_AXIS]


def host_sharding(mesh: Mesh) -> NamedSharding:
    """A leading axis of one row per process, each row on (only) that process's devices."""
    devices = sorted(mesh.devices.flat, key=lambda d: (d.process_index, d.id))
    grid = np.asarray(devices).reshape(jax.process_count(), -1)
    return NamedSharding(Mesh(grid, ("process", "local")), P("process"))


def host_state_to_global(host: Any, mesh: Mesh) -> Any:
    """Each process's own host state (a pytree of numpy arrays) as rows of global arrays
    ``[process_count, ...]``: a checkpoint then stores every host's row, and restoring into
    `host_sharding` hands each host back its own."""
    sharding = host_sharding(mesh)
    return jax.tree.map(lambda v: jax.make_array_from_process_local_data(sharding, np.asarray(v)[None]), host)


def host_state_from_global(arrays: Any) -> Any:
    """This process's row of `host_state_to_global`'s arrays, as numpy."""
    return jax.tree.map(lambda a: np.array(a.addressable_shards[0].data)[0], arrays)
