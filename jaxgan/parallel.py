"""Device mesh, shardings, multi-host start-up and global-batch assembly (jit + NamedSharding)."""
from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jaxgan.errors import ConfigError

BATCH_AXIS = "data"
# Any of these means a multi-process launch that jax.distributed.initialize() can read.
_CLUSTER_VARS = ("JAX_COORDINATOR_ADDRESS", "COORDINATOR_ADDRESS", "SLURM_STEP_NUM_TASKS",
                 "OMPI_COMM_WORLD_SIZE", "TPU_WORKER_HOSTNAMES", "MEGASCALE_COORDINATOR_ADDRESS")


def initialize_distributed() -> None:
    """Joins the multi-host job when the usual cluster variables are set; a no-op on one host."""
    if any(os.environ.get(v) for v in _CLUSTER_VARS) and not jax.distributed.is_initialized():
        if os.environ.get("SLURM_STEP_NUM_TASKS", "2") != "1":
            jax.distributed.initialize()


def make_mesh(devices: list[jax.Device] | None = None) -> Mesh:
    """A one-axis data-parallel mesh over ``devices`` (default: every device of every host)."""
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices), (BATCH_AXIS,), axis_types=(jax.sharding.AxisType.Auto,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P(BATCH_AXIS))


def check_batch_size(batch_size: int, mesh: Mesh) -> None:
    """Raises a clear error when the global batch cannot be split evenly over the mesh's devices."""
    n = mesh.devices.size
    if batch_size % n:
        raise ConfigError(f"batch_size={batch_size} must be a multiple of the {n} devices")


def global_batch(local: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
    """Assembles each host's slice of the batch into global arrays sharded on the batch axis."""
    sharding = batch_sharded(mesh)
    return {k: jax.make_array_from_process_local_data(sharding, v) for k, v in local.items()}


def constrain_batch(x: Any) -> Any:
    """Inside a jitted step: keep ``x`` (e.g. sampled noise) sharded on its batch axis, if a mesh is set."""
    mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty or BATCH_AXIS not in mesh.axis_names:
        return x
    return jax.lax.with_sharding_constraint(x, P(BATCH_AXIS))
