"""Host-side input: tf.data pipelines over registered data sources (TF never sees a GPU)."""
from jaxgan.data.pipeline import DataSpec, eval_arrays, eval_fields, train_batches
from jaxgan.data.registry import LAYOUTS, SOURCES, domain_names, register, resolve

__all__ = ["DataSpec", "LAYOUTS", "SOURCES", "domain_names", "eval_arrays", "eval_fields", "register", "resolve", "train_batches"]
