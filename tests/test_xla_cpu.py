"""jaxgan turns on XLA's YNNPACK convolutions at import, safely: never over the user's XLA_FLAGS, never
after JAX's backends started (the flag would not take effect), and says which lowering it enables."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT
from jaxgan import xla_cpu

PROBE = """
import json, os, sys
if sys.argv[1] == "late":
    import jax; jax.devices()
import jaxgan
from jaxgan import xla_cpu
print(json.dumps([os.environ.get("XLA_FLAGS"), xla_cpu.ynnpack_convolutions()]))
"""


def _probe(xla_flags: str | None, when: str = "first") -> list:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    if xla_flags is not None:
        env["XLA_FLAGS"] = xla_flags
    out = subprocess.run([sys.executable, "-c", PROBE, when], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_flag_parsing():
    assert xla_cpu._requested("--xla_backend_optimization_level=0 --xla_cpu_experimental_ynn_fusion_type=dot")
    assert xla_cpu._requested("--xla_cpu_experimental_ynn_fusion_type=+dot,+eltwise")
    assert not xla_cpu._requested("--xla_cpu_experimental_ynn_fusion_type=")
    assert not xla_cpu._requested("--xla_cpu_experimental_ynn_fusion_type=eltwise")
    assert not xla_cpu._requested("--xla_cpu_experimental_ynn_fusion_type=dot --xla_cpu_experimental_ynn_fusion_type=")


def test_import_enables_ynnpack_but_never_over_the_user_or_too_late():
    from jaxlib import version

    measured = version.__version__ in xla_cpu.MEASURED_JAXLIB
    flags, on = _probe("--xla_backend_optimization_level=0")
    assert on == measured
    assert flags == "--xla_backend_optimization_level=0" + (" --xla_cpu_experimental_ynn_fusion_type=dot" * measured)
    assert _probe("--xla_cpu_experimental_ynn_fusion_type=") == ["--xla_cpu_experimental_ynn_fusion_type=", False]
    assert _probe(None, when="late") == [None, False]          # JAX's backend already started: left alone
