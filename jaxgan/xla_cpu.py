"""XLA's CPU backend setting jaxgan turns on when imported: YNNPACK for convolutions and matrix multiplies.

XLA's own CPU convolutions are slow (Eigen), and its code for the data movement of an im2col runs at a
few GB/s, so `jaxgan.nn.conv` used to lower every convolution to matrix multiplies. JAX's CPU backend can
instead hand stride-1 convolutions, their gradients and matrix multiplies to the YNNPACK library
(``--xla_cpu_experimental_ynn_fusion_type=dot``), which measured 1.4-1.5x faster on whole CycleGAN and
SRGAN training steps and halved their compile time and peak memory (benchmarks/RESULTS.md, Speed). The flag is
experimental, so it is added only for the jaxlib versions it was measured on, only before JAX has
created its backends (XLA reads ``XLA_FLAGS`` once), and never over a value the user set: to turn it
off, run with ``XLA_FLAGS=--xla_cpu_experimental_ynn_fusion_type=``.
"""
from __future__ import annotations

import os

FLAG = "--xla_cpu_experimental_ynn_fusion_type"
#: jaxlib versions on which the flag exists and was measured (an unknown XLA flag aborts the process)
MEASURED_JAXLIB = ("0.10.2",)
_enabled_here = False


def _requested(flags: str) -> bool:
    """Whether ``flags`` (an XLA_FLAGS value) asks YNNPACK to take matrix multiplies (``dot``)."""
    values = [f.split("=", 1)[1] for f in flags.split() if f.startswith(FLAG + "=")]
    return bool(values) and "dot" in values[-1].replace("+", "").split(",")


def _backends_started() -> bool:
    try:
        from jax._src import xla_bridge
        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):
        return False


def enable_ynnpack() -> None:
    """Adds the flag to ``XLA_FLAGS`` where that is safe and takes effect (see the module docstring)."""
    global _enabled_here
    flags = os.environ.get("XLA_FLAGS", "")
    if FLAG in flags or _backends_started():
        return
    from jaxlib import version

    if version.__version__ not in MEASURED_JAXLIB:
        return
    os.environ["XLA_FLAGS"] = f"{flags} {FLAG}=dot".strip()
    _enabled_here = True


def ynnpack_convolutions() -> bool:
    """Whether this process's CPU backend runs stride-1 convolutions in YNNPACK: set by `enable_ynnpack`
    or by the user's own ``XLA_FLAGS`` (inherited by subprocesses), before the backend started."""
    return _enabled_here or _requested(os.environ.get("XLA_FLAGS", ""))
