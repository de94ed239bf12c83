"""Use a trained run: generate, translate, upscale, score, export (the same command as ``jaxgan-infer``;
``python infer.py --help`` lists every mode)."""
from jaxgan.commands.infer import entry

if __name__ == "__main__":
    entry()
