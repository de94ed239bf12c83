"""Imports TensorFlow for host-side input only, with every GPU/TPU hidden from it (and without Keras)."""
from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import tempfile
from types import ModuleType
from typing import Callable, Iterator

_TF: list[ModuleType] = []


def tensorflow() -> ModuleType:
    """The `tensorflow` module, configured so it never claims an accelerator or floods the log."""
    if not _TF:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        # oneDNN speeds up TF's matmuls and convolutions, which the input pipeline does not run; on CPUs
        # without AVX-512 its uint8 kernels log an error line mid-run.
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
        if importlib.util.find_spec("tf_keras") is None:
            # `import tensorflow` loads Keras 3 (and scikit-learn through it) eagerly unless told to use
            # the separate tf_keras package; where that is not installed, TF skips Keras altogether. The
            # input pipeline never uses tf.keras: start-up with tensorflow_datasets 11.4 -> 8.4 s.
            os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
        with _native_stderr_held():
            import tensorflow as tf

            tf.config.set_visible_devices([], "GPU")
            try:
                tf.config.set_visible_devices([], "TPU")
            except (ValueError, RuntimeError):
                pass
            tf.constant(0).numpy()           # loads the kernels, which print their own banners
        _TF.append(tf)
    return _TF[0]


def as_written(fn: Callable) -> Callable:
    """``fn`` for `tf.data.Dataset.map` traced as written, without AutoGraph's source rewrite (which cost
    ~2 s of every start-up for the image pipelines). Map functions here branch only on Python values."""
    return tensorflow().autograph.experimental.do_not_convert(fn)


@contextlib.contextmanager
def _native_stderr_held() -> Iterator[None]:
    """Holds back what native code writes to stderr (TensorFlow's C++ start-up banners bypass its log
    level); replays it if the block fails, so a real import error is still seen."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            os.write(2, held.read())
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
