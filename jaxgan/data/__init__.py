"""Host-side input: tf.data pipelines over embedded sets, image folders and TFDS (TF never sees a GPU)."""
from jaxgan.data.pipeline import eval_arrays, train_batches

__all__ = ["eval_arrays", "train_batches"]
