"""Two processes on CPU (jax.distributed): host state per host, training and resuming across hosts, stop
requests on any hosts, lost hosts."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import CONV_FLAG

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


TRAINER = """
import json
import sys
import jax
import ml_collections
import numpy as np
sys.path.insert(0, sys.argv[3])
from jaxgan.train import Trainer

config = ml_collections.ConfigDict(json.loads(open(sys.argv[1]).read()))
trainer = Trainer(config, sys.argv[2])           # joins the job from the JAX_* variables, as train.py does
trainer.fit()
params = [np.asarray(x.addressable_data(0)) for x in jax.tree.leaves(trainer.recipe.generator_variables(trainer.state))]
if jax.process_index() == 0:
    np.savez(sys.argv[2] + ".npz", *params)
"""


def _train(config, workdir) -> None:
    """Trains ``config`` in ``workdir`` as two jax.distributed processes of one CPU device each (joined by
    the variables a user sets outside SLURM / Open MPI / TPU pods, see the README)."""
    import json

    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    config_file = workdir.parent / f"{workdir.name}.json"
    config_file.write_text(json.dumps(config.to_dict()))
    env = {"JAX_PLATFORMS": "cpu", "JAX_NUM_CPU_DEVICES": "1", "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "2",
           **{k: os.environ[k] for k in ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
                                         "XLA_FLAGS") if k in os.environ}}      # conftest's compile settings
    procs = [subprocess.Popen([sys.executable, "-c", TRAINER, str(config_file), str(workdir), str(ROOT)],
                              env={**env, "JAX_COORDINATOR_ADDRESS": f"localhost:{port}", "JAX_NUM_PROCESSES": "2",
                                   "JAX_PROCESS_ID": str(i)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]


@pytest.mark.parametrize("name", ["dcgan", pytest.param("cyclegan", marks=pytest.mark.skipif(
    not os.environ.get("JAXGAN_SLOW_TESTS"), reason="about 2 minutes; JAXGAN_SLOW_TESTS=1 runs it"))])
def test_two_processes_train_resume_after_a_lost_checkpoint_and_match_one_process(name, tiny, tiny_i2i, tmp_path):
    """Two hosts (each its own device, data slice and host state: CycleGAN's pools) train 2 steps, lose
    the step-4 checkpoint as a crash would, resume to 4 and end where one process with both devices (the
    same global batch over two devices) does."""
    import shutil

    import jax

    from jaxgan.train import Trainer

    make = tiny if name == "dcgan" else tiny_i2i
    config = make(name, num_steps=4, checkpoint_every=2, batch_size=2, log_every=2)
    _train(config, tmp_path / "multi")
    shutil.rmtree(tmp_path / "multi" / "checkpoints" / "4")           # as if both hosts died before saving it
    (tmp_path / "multi.npz").unlink()
    _train(config, tmp_path / "multi")
    single = Trainer(config, tmp_path / "single", devices=jax.devices()[:2])
    single.fit()
    expected = jax.tree.leaves(jax.device_get(single.recipe.generator_variables(single.state)))
    multi = np.load(tmp_path / "multi.npz")
    assert len(multi.files) == len(expected) > 0
    for i, want in enumerate(expected):
        np.testing.assert_allclose(multi[f"arr_{i}"], want, rtol=1e-5, atol=1e-6)


JOIN = """
import sys
sys.path.insert(0, sys.argv[1])
from jaxgan import parallel
from jaxgan.errors import ConfigError
try:
    parallel.initialize_distributed()
except ConfigError as e:
    print(e)
"""


@pytest.mark.parametrize("count, expected", [(None, "set JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and JAX_PROCESS_ID"),
                                             ("two", "JAX_NUM_PROCESSES must be an integer, not 'two'")])
def test_a_coordinator_address_without_a_valid_process_count_is_one_clear_error(count, expected):
    """In a fresh process, as train.py meets it (jax.distributed must start before anything else)."""
    env = {"JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin", "JAX_COORDINATOR_ADDRESS": "localhost:1",
           **({"JAX_NUM_PROCESSES": count} if count else {})}
    done = subprocess.run([sys.executable, "-c", JOIN, str(ROOT)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert expected in done.stdout and len(done.stdout.strip().splitlines()) == 1


# ----------------------------------------------------------------------------------- preemption, lost hosts
SLOW = pytest.mark.skipif(not os.environ.get("JAXGAN_SLOW_TESTS"), reason="about a minute; JAXGAN_SLOW_TESTS=1 runs it")
STEPS = 400          # long enough that a quiet machine cannot finish before the hosts agree to stop
RESUMED = 120        # the resumed run's num_steps (a constant learning rate: the same run, shorter)
TRAIN_FLAGS = ["--config", "configs/dcgan.py", CONV_FLAG, "--config.image_size=16", "--config.batch_size=8",
               "--config.log_every=1", "--config.checkpoint_every=15",
               "--config.sample_every=1000", "--config.evaluate=False", "--config.model.g_features=8",
               "--config.model.d_features=8", "--config.model.latent_dim=16", "--config.host_timeout_s=8"]


def _hosts(workdir, num_steps=STEPS):
    """Two train.py processes of one CPU device each, joined by the JAX_* variables, on one workdir."""
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    env = {"JAX_PLATFORMS": "cpu", "JAX_NUM_CPU_DEVICES": "1", "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "2",
           **{k: os.environ[k] for k in ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
                                         "XLA_FLAGS", "JAXGAN_CACHE_DIR", "HOME") if k in os.environ}}
    return [subprocess.Popen([sys.executable, "train.py", "--workdir", str(workdir), *TRAIN_FLAGS,
                              f"--config.num_steps={num_steps}"], cwd=ROOT,
                             env={**env, "JAX_COORDINATOR_ADDRESS": f"localhost:{port}", "JAX_NUM_PROCESSES": "2",
                                  "JAX_PROCESS_ID": str(i)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i in range(2)]


def _when_logged(workdir, steps, procs):
    deadline = time.time() + 300
    log = workdir / "metrics.jsonl"
    while not (log.exists() and len(log.read_text().splitlines()) >= steps):
        assert time.time() < deadline and all(p.poll() is None for p in procs), "training never got there"
        time.sleep(0.1)


def _ended(procs):
    """``[(exit code, stderr, seconds after now)]`` of each host."""
    start, out = time.time(), []
    for p in procs:
        _, err = p.communicate(timeout=240)
        out.append((p.returncode, err, time.time() - start))
    return out


def _uninterrupted(tiny, tmp_path):
    """The same run as one process on two devices (the same global batch), in this process, to `RESUMED`."""
    import jax

    from jaxgan.train import Trainer

    config = tiny("dcgan", num_steps=RESUMED, checkpoint_every=15, log_every=1)
    trainer = Trainer(config, tmp_path / "single", devices=jax.devices()[:2])
    trainer.fit()
    return jax.device_get(trainer.recipe.generator_variables(trainer.state))


def _assert_resumes_to_the_uninterrupted_run(tiny, tmp_path, workdir):
    import jax

    from jaxgan.inference import load_generator

    for code, err, _ in _ended(_hosts(workdir, RESUMED)):
        assert code == 0, err[-3000:]
    _, variables, step = load_generator(workdir)
    assert step == RESUMED
    for got, want in zip(jax.tree.leaves(variables), jax.tree.leaves(_uninterrupted(tiny, tmp_path)), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("signalled", ["one host", pytest.param("both at once", marks=SLOW),
                                       pytest.param("both, 0.5 s apart", marks=SLOW)])
def test_sigterm_on_any_hosts_stops_all_at_one_step_with_one_checkpoint_and_resumes_exactly(signalled, tiny,
                                                                                          tmp_path):
    workdir = tmp_path / "run"
    procs = _hosts(workdir)
    _when_logged(workdir, 18, procs)                                   # past the step-15 checkpoint
    targets = {"one host": [procs[1]], "both at once": procs, "both, 0.5 s apart": procs}[signalled]
    for i, p in enumerate(targets):
        time.sleep(0.5 if i and signalled.endswith("apart") else 0)
        p.send_signal(signal.SIGTERM)
    ended = _ended(procs)
    assert [code for code, _, _ in ended] == [1, 1], [err[-2000:] for _, err, _ in ended]
    lines = [(err.strip().splitlines() or [""])[-1] for _, err, _ in ended]
    assert lines[0] == lines[1] and lines[0].startswith("stopped at step ") and lines[0].endswith(
        "(checkpoint saved); run the same command to resume")
    stopped = int(lines[0].split()[3])
    assert 18 <= stopped < RESUMED and max(s for _, _, s in ended) < 30
    saved = sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
    assert saved[-1] == stopped and all(s % 15 == 0 for s in saved[:-1]), saved     # one checkpoint, agreed
    _assert_resumes_to_the_uninterrupted_run(tiny, tmp_path, workdir)


@pytest.mark.parametrize("lost", [pytest.param(1, marks=SLOW), pytest.param(0, marks=SLOW)])
def test_a_lost_host_ends_the_others_in_bounded_time_with_one_line_and_the_run_resumes(lost, tiny, tmp_path):
    workdir = tmp_path / "run"
    procs = _hosts(workdir)
    _when_logged(workdir, 18, procs)
    procs[lost].kill()                                                 # kill -9: the host is gone
    (code, err, seconds), = [e for i, e in enumerate(_ended(procs)) if i != lost]
    survivor = 1 - lost
    what = "host 1 of 2: no heartbeat for 8 s" if lost else "host 0 (the coordinator): it stopped answering"
    assert code == 75 and seconds < 8 + 10, err[-2000:]
    assert err.strip().splitlines()[-1] == (
        f"error: lost {what}; stopping this host (the last good checkpoint is step 15); restart every host with "
        f"the same command to resume (details in {workdir / f'host_{survivor}.log'})")
    assert "Traceback" not in err and "Thread 0x" not in err           # the details went to the host's log
    _assert_resumes_to_the_uninterrupted_run(tiny, tmp_path, workdir)
