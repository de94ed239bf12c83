"""Two processes on CPU (jax.distributed): each host checkpoints its own host state and gets it back."""
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WORKER = """
import sys
import jax
import numpy as np
jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.distributed.initialize(f"localhost:{sys.argv[1]}", num_processes=2, process_id=int(sys.argv[2]))
sys.path.insert(0, sys.argv[4])
from jaxgan import parallel
from jaxgan.checkpoint import Checkpointer

me = jax.process_index()
mesh = parallel.make_mesh()
assert mesh.devices.size == 2
own = {"pool": {"images": np.full((3, 2), 10.0 + me, np.float32), "count": np.asarray(me + 1, np.int64)}}
checkpointer = Checkpointer(sys.argv[3])
checkpointer.save(7, {"host": parallel.host_state_to_global(own, mesh)}, {"step": 7})
checkpointer.close()
blank = jax.tree.map(np.zeros_like, own)
restored, _ = Checkpointer(sys.argv[3]).restore(7, {"host": parallel.host_state_to_global(blank, mesh)})
back = parallel.host_state_from_global(restored["host"])
np.testing.assert_array_equal(back["pool"]["images"], own["pool"]["images"])
assert int(back["pool"]["count"]) == me + 1
print("host", me, "got its own state back")
"""


def test_each_host_restores_its_own_host_state(tmp_path):
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    env = {"JAX_PLATFORMS": "cpu", "JAX_NUM_CPU_DEVICES": "1", "PATH": "/usr/bin:/bin"}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(port), str(i), str(tmp_path / "ckpt"), str(ROOT)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for i, (p, (out, err)) in enumerate(zip(procs, outputs)):
        assert p.returncode == 0, err[-3000:]
        assert f"host {i} got its own state back" in out
