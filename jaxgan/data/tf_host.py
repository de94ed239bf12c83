"""Imports TensorFlow for host-side input only, with every GPU/TPU hidden from it."""
from __future__ import annotations

import os
from types import ModuleType

_TF: list[ModuleType] = []


def tensorflow() -> ModuleType:
    """The `tensorflow` module, configured so it never claims an accelerator or floods the log."""
    if not _TF:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        tf.config.set_visible_devices([], "GPU")
        try:
            tf.config.set_visible_devices([], "TPU")
        except (ValueError, RuntimeError):
            pass
        _TF.append(tf)
    return _TF[0]
