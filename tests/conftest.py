"""Test set-up: 8 simulated CPU devices, a persistent compilation cache, tiny configs, and trained
workdirs shared by every test (and pytest-xdist worker) of a session."""
from __future__ import annotations

import functools
import os
import shutil
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".pytest_cache" / "jax_compilation_cache"
os.environ.setdefault("JAX_NUM_CPU_DEVICES", "8")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(CACHE))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("JAXGAN_CACHE_DIR", str(ROOT / ".pytest_cache" / "jaxgan"))      # folder indexes
# Tests are dominated by compiling many small programs: LLVM's -O0 halves compile time (threefry init
# code especially) and the tiny steps barely notice.
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")
sys.path.insert(0, str(ROOT))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from jaxgan.config import set_field, shipped_config  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_num_cpu_devices", int(os.environ["JAX_NUM_CPU_DEVICES"]))


#: The convolution lowering of every test config. At the tests' tiny sizes `auto` would run many layers
#: as the matmul lowering (`jaxgan.nn.conv.SMALL_CONV_PIXELS`), whose gradient XLA compiles as one kernel
#: per window tap: a tiny CycleGAN's generator step took 17.6 s to compile that way against 9.0 s with the
#: stride-1 convolution that full-size layers run. `tests/test_nn.py` checks every lowering against XLA's.
CONV_IMPL = "space_to_depth"
CONV_FLAG = f"--config.model.conv_impl={CONV_IMPL}"          # the same, for train.py in a subprocess


def load_config(name: str):
    """``configs/<name>.py``'s config, with the tests' `CONV_IMPL`."""
    config = shipped_config(name)
    config.model.conv_impl = CONV_IMPL
    return config


#: every tiny config: a few steps, metrics at every step, no samples, checkpoints or evaluation unless asked
TINY_RUN = {"num_steps": 4, "log_every": 1, "sample_every": 1000, "checkpoint_every": 1000, "eval_every": 0,
            "evaluate": False}
_NOISE = {"image_size": 16, "batch_size": 8, "num_samples": 8, "model.latent_dim": 16}
_DCGAN = {**_NOISE, "model.g_features": 8, "model.d_features": 8}
_TRANSLATION = {"image_size": 32, "data.load_size": 36, "num_samples": 2, "model.g_features": 8,
                "model.d_features": 8, "model.n_layers": 2}
#: each shipped config shrunk to train in seconds (with `TINY_RUN`)
TINY = {
    "gan": {**_NOISE, "model.g_hidden": (32, 32), "model.d_hidden": (32,)},
    "dcgan": _DCGAN, "wgan": _DCGAN, "wgan_gp": _DCGAN,
    "pix2pix": {**_TRANSLATION, "batch_size": 2, "model.num_downs": 5},
    "cyclegan": {**_TRANSLATION, "batch_size": 1, "model.num_blocks": 2},
    # x4, 32x32 HR crops, 2 blocks of 8 features, 2 + 2 steps
    "srgan": {"image_size": 32, "batch_size": 8, "pretrain_steps": 2, "num_samples": 2, "tile": 40,
              "model.num_blocks": 2, "model.features": 8, "model.d_features": 8},
    # 32x32 HR crops, 1 RRDB of 8 features, the VGG-style D (spectral norm: test_super_resolution.py)
    "esrgan": {"image_size": 32, "batch_size": 8, "pretrain_steps": 2, "num_samples": 2, "tile": 40,
               "model.num_blocks": 1, "model.features": 8, "model.growth": 4, "model.d_features": 8,
               "model.d_norm": "batch"},
    # 16x16 digit styles, 1 residual block of 8 features, n_critic 2
    "stargan": {"image_size": 16, "batch_size": 4, "num_samples": 2, "model.num_blocks": 1, "model.g_features": 8,
                "model.d_features": 8, "model.d_layers": 3, "gan.n_critic": 2},
    # 16x16 coloured digits, 8-feature nets
    "text2img": {"image_size": 16, "batch_size": 8, "num_samples": 4, "ema_decay": 0.0, "model.g_features": 8,
                 "model.d_features": 8, "model.latent_dim": 8, "model.text_dim": 16, "model.encoder_width": 16,
                 "model.projection": 8},
}


def tiny_config(name: str, **overrides):
    """``configs/<name>.py`` shrunk to train in seconds (`TINY_RUN`, `TINY`), then ``overrides`` (dotted)."""
    c = load_config(name)
    for key, value in {**TINY_RUN, **TINY[name], **overrides}.items():
        set_field(c, key, value)
    return c


@pytest.fixture
def tiny():
    return tiny_config


@pytest.fixture
def tiny_i2i():
    return tiny_config


@pytest.fixture
def tiny_sr():
    return functools.partial(tiny_config, "srgan")


def train_batches(config, start_step=0, **kw):
    """The training stream ``config``'s recipe reads (its fields, sizes and augmentation)."""
    from jaxgan import data, recipes

    recipe = recipes.build(config)
    return data.train_batches(config, recipe.data_spec, recipe.examples_per_row, start_step, **kw)


def eval_arrays(config, split):
    from jaxgan import data, recipes

    return data.eval_arrays(config, recipes.build(config).data_spec, split)


@pytest.fixture
def short_classifier_training(monkeypatch):
    """The evaluations' classifiers train at most 150 steps instead of 300 or 1,000: under the tests' -O0 a
    step of the digit classifier takes ~40 ms. At 150 steps the tiny StarGAN's content classifier reads
    71% of held-out digits, text-to-image's 94% (asserted: > 50%, > 80%); every domain and colour 100%."""
    from jaxgan.metrics import caption_eval, classifiers, domain_eval

    def capped(*args, steps: int = 300, **kwargs):
        return classifiers.train_classifier(*args, steps=min(steps, 150), **kwargs)

    for module in (caption_eval, domain_eval):
        monkeypatch.setattr(module, "train_classifier", capped)


def shared_workdir(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """A directory that ``build(path)`` fills once per test session for every pytest-xdist worker: the
    first worker to need it builds it under a file lock, the others wait and reuse it. (A module-scoped
    fixture is built again on each worker, and again whenever a worker leaves the module and comes back.)"""
    import fcntl

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent                       # this session's directory, above each worker's own
    path, done = root / f"shared-{name}", root / f"shared-{name}.done"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(path, ignore_errors=True)
            build(path)
            done.touch()
    return path


def run_script(*args, devices: int = 1):
    """``python *args`` from the repository root on ``devices`` simulated devices: the completed process."""
    import subprocess

    return subprocess.run([sys.executable, *map(str, args)], cwd=ROOT,
                          env=dict(os.environ, JAX_NUM_CPU_DEVICES=str(devices)),
                          capture_output=True, text=True, timeout=600)


def train_tiny(workdir: Path, recipe: str, *overrides: str) -> Path:
    """``workdir`` trained by ``train.py --config configs/<recipe>.py`` with ``overrides``."""
    result = run_script("train.py", "--config", f"configs/{recipe}.py", "--workdir", workdir, "--config.evaluate=False",
                        CONV_FLAG, *overrides)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


@pytest.fixture(scope="session")
def trained_workdir(tmp_path_factory) -> Path:
    """A GAN (MLP) run of 3 steps by train.py, shared by every test that reads but never changes it."""
    return shared_workdir(tmp_path_factory, "cli-gan", lambda w: train_tiny(
        w, "gan", "--config.num_steps=3", "--config.batch_size=8", "--config.image_size=16", "--config.log_every=1",
        "--config.model.g_hidden=(32,)", "--config.model.d_hidden=(32,)"))


@pytest.fixture(scope="session")
def cyclegan_workdir(tmp_path_factory) -> Path:
    """A tiny CycleGAN run of 2 steps by train.py, shared likewise."""
    return shared_workdir(tmp_path_factory, "cli-cyclegan", lambda w: train_tiny(
        w, "cyclegan", "--config.num_steps=2", "--config.image_size=32", "--config.data.load_size=36",
        "--config.model.num_blocks=1", "--config.model.g_features=8", "--config.model.d_features=8",
        "--config.num_samples=2"))


def traced(model, *inputs, **kwargs):
    """``(variables, output)`` of ``model.init`` / ``model.apply`` on ``inputs`` (arrays or
    `jax.ShapeDtypeStruct`s) as shapes only: traced with `jax.eval_shape`, never compiled."""
    keys = {"params": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1)}
    variables = jax.eval_shape(lambda *xs: model.init(keys, *xs, **kwargs), *inputs)
    return variables, jax.eval_shape(lambda v, *xs: model.apply(v, *xs, **kwargs), variables, *inputs)


def assert_trees_equal(a, b) -> None:
    """Every leaf of two pytrees (device arrays fetched) bit-for-bit equal."""
    for x, y in zip(jax.tree.leaves(jax.device_get(a)), jax.tree.leaves(jax.device_get(b)), strict=True):
        np.testing.assert_array_equal(x, y)


def run_steps(trainer, steps):
    """``steps`` iterations through the trainer's public `step`; their metrics as floats. Every recipe's
    step is checked to read nothing back from the device implicitly (a hidden sync that would stall
    the accelerator): the metrics are read after each step, outside the guard."""
    out = []
    for _ in range(steps):
        with jax.transfer_guard_device_to_host("disallow"):
            metrics = trainer.step()
        out.append({k: float(v) for k, v in metrics.items()})
    return out


def assert_one_and_eight_devices_agree(make_config, workdir: Path, steps: int) -> None:
    """Trains ``steps`` steps of ``make_config()`` on 1 and on 8 devices: same metrics, same networks."""
    from jaxgan.train import Trainer

    assert jax.device_count() == 8
    results = []
    for devices in (jax.devices()[:1], jax.devices()):
        trainer = Trainer(make_config(), workdir / str(len(devices)), devices=devices)
        metrics = run_steps(trainer, steps)[-1]
        results.append((jax.device_get(trainer.state.nets), metrics))
        trainer.close()
    (nets1, m1), (nets8, m8) = results
    for k in m1:
        np.testing.assert_allclose(m1[k], m8[k], rtol=2e-4, atol=2e-5, err_msg=k)
    for a, b in zip(jax.tree.leaves(nets1), jax.tree.leaves(nets8)):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def write_torchscript(path: Path, tree: dict) -> None:
    """A ``torch.jit.save``-shaped archive (``code/`` beside ``data.pkl``) of a module tree: ``tree`` maps
    attribute names to numpy arrays (parameters) or ``(class name, subtree)`` (submodules of class
    ``__torch__.model.<class name>``), as TorchScript pickles them (objects built from their attributes)."""
    import io
    import types
    import zipfile

    from jaxgan import torch_file

    fake = types.ModuleType("__torch__.model")
    storages: list = []

    def build(kind: str, subtree: dict):
        cls = getattr(fake, kind, None) or type(kind, (), {"__module__": "__torch__.model"})
        setattr(fake, kind, cls)
        module = cls()
        for name, value in subtree.items():
            if isinstance(value, tuple):
                value = build(*value)
            elif isinstance(value, np.ndarray):
                storage = torch_file.Storage(value, str(len(storages)))
                storages.append(storage)
                value = torch_file.Tensor(storage, 0, value.shape,
                                          tuple(int(np.prod(value.shape[i + 1:])) for i in range(value.ndim)))
            setattr(module, name, value)
        return module

    saved = {name: sys.modules.get(name) for name in ("__torch__", "__torch__.model")}
    sys.modules["__torch__"], sys.modules["__torch__.model"] = types.ModuleType("__torch__"), fake
    try:
        body = io.BytesIO()
        torch_file._Pickler(body, legacy=False).dump(build("Top", tree))
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model/data.pkl", body.getvalue())
        archive.writestr("model/code/__torch__/model.py", "class Top(Module):\n  pass\n")
        archive.writestr("model/version", "3\n")
        for storage in storages:
            archive.writestr(f"model/data/{storage.key}", storage.array.tobytes())
