"""Train a GAN (the same command as ``jaxgan-train``)::

    python train.py --config configs/dcgan.py --workdir runs/dcgan [--config.field=value ...]

Re-running the same command resumes from the latest checkpoint in the workdir.
"""
from jaxgan.commands.train import entry

if __name__ == "__main__":
    entry()
