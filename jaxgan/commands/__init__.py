"""The console commands: ``jaxgan-train`` (`train`), ``jaxgan-infer`` (`infer`); ``train.py`` and
``infer.py`` at the repository's root run the same functions."""
