"""Entry-point helpers: absl flag errors (unknown or ill-typed config fields, a broken config file) as one
clear line."""
from __future__ import annotations

import logging
import sys
from typing import Any, Callable

from absl import app, flags


def _one_line(error: BaseException) -> str:
    text = str(error.args[0]) if error.args else str(error)
    text = text.replace("\\n", " ").replace("\\'", "'").replace("\n", " ")
    text = " ".join(text.split())
    if len(text) > 1 and text[0] == text[-1] == "'":      # KeyError's repr quotes
        text = text[1:-1]
    return text


HELP_FLAGS = ("--help", "-h", "--helpshort", "--helpfull", "-?")


def _config_fields(config: Any, prefix: str = "") -> list[str]:
    """``field = value`` lines for every (nested) field of a config."""
    lines = []
    for key, value in sorted(config.items()):
        if hasattr(value, "items"):
            lines += _config_fields(value, f"{prefix}{key}.")
        else:
            lines.append(f"  --config.{prefix}{key}={value!r}")
    return lines


def print_help(argv: list[str], module: str) -> None:
    """The usage of the command ``module`` (its docstring), its flags, and (with ``--config FILE``) every
    field that file's config has."""
    print((sys.modules[module].__doc__ or "").strip() + "\n")
    print("flags:\n" + flags.FLAGS.module_help(sys.modules[module]))
    config = None
    path = next((a.split("=", 1)[1] if "=" in a else argv[i + 2] for i, a in enumerate(argv[1:])
                 if a.split("=", 1)[0] == "--config" and ("=" in a or i + 2 < len(argv))), None)
    if path and "config" in flags.FLAGS:
        try:
            flags.FLAGS["config"].parse(path)
            config = flags.FLAGS["config"].value
            config.get("recipe")
        except Exception as e:  # noqa: BLE001  the file's own error, in one line
            print(f"\n(cannot list the fields of {path}: {type(e).__name__})")
            config = None
    if config is not None:
        print("\nconfig fields (override any with --config.<field>=value):\n" + "\n".join(_config_fields(config)))
    elif "config" in flags.FLAGS and not path:
        print(f"\nAdd --config NAME (one of {', '.join(shipped_configs())}) or --config FILE.py to --help to list "
              f"every field of that config.")


def use_compile_cache(where: str) -> str | None:
    """Turns on XLA's persistent compilation cache: ``auto`` = ``$JAX_COMPILATION_CACHE_DIR`` where set,
    else ``~/.cache/jaxgan/xla``; ``""`` leaves it off; anything else is the folder. Returns the folder.
    Programs that took over a second to compile are kept, so a restarted or resumed run skips it."""
    import os
    from pathlib import Path

    import jax

    if where == "auto":
        where = os.environ.get("JAX_COMPILATION_CACHE_DIR") or str(Path.home() / ".cache" / "jaxgan" / "xla")
    if where:
        jax.config.update("jax_compilation_cache_dir", str(Path(where).expanduser()))
    return where or None


def shipped_configs() -> list[str]:
    """The names of the shipped recipe configs (``--config dcgan``)."""
    from jaxgan.config import configs_dir

    return sorted(p.stem for p in configs_dir().glob("*.py") if not p.stem.startswith("_"))


def config_argument(value: str) -> str:
    """``--config``'s value as a file: a path (``configs/dcgan.py``, ``my.py:paper``) as given, a shipped
    config's name (``dcgan``, ``dcgan:paper``) as its file in the installed package or checkout."""
    from jaxgan.config import configs_dir
    from jaxgan.errors import ConfigError

    name, colon, variant = value.partition(":")
    if name.endswith(".py") or "/" in name or "\\" in name:
        return value
    if name not in shipped_configs():
        raise ConfigError(f"--config {value}: not a .py file, nor a shipped config ({', '.join(shipped_configs())})")
    return str(configs_dir() / f"{name}.py") + colon + variant


def _with_config_files(argv: list[str]) -> list[str]:
    out = list(argv)
    for i, arg in enumerate(out):
        if arg.startswith("--config="):
            out[i] = "--config=" + config_argument(arg.split("=", 1)[1])
        elif arg == "--config" and i + 1 < len(out):
            out[i + 1] = config_argument(out[i + 1])
    return out


def run_absl_app(main: Callable[[list[str]], None]) -> None:
    """Parses flags and runs ``main``; a bad flag or config override exits with a one-line message;
    ``--help`` prints the usage, the flags and the config's fields. ``--config`` takes a file or the name
    of a shipped config."""
    from jaxgan.errors import ConfigError

    try:
        sys.argv = _with_config_files(sys.argv)
    except ConfigError as e:
        sys.exit(f"error: {e}")
    if any(arg in HELP_FLAGS for arg in sys.argv[1:]):
        print_help([arg for arg in sys.argv if arg not in HELP_FLAGS], main.__module__)
        return
    try:
        argv = flags.FLAGS(sys.argv)
    except (flags.Error, AttributeError, KeyError, TypeError, ValueError) as e:
        lines = [line for line in str(e).splitlines() if line.strip()]
        if "Traceback (most recent call last)" in str(e):     # the --config file's get_config raised
            raised = lines[-1].strip()
            sys.exit(f"error: {raised.split('ConfigError: ', 1)[1]}" if "ConfigError: " in raised
                     else f"error: cannot load the --config file: {raised}")
        kind = "unknown config field" if isinstance(e, (AttributeError, KeyError)) else "bad flag"
        sys.exit(f"error: {kind}: {_one_line(e)}")
    except Exception as e:  # noqa: BLE001  a --config file that runs but fails (SyntaxError, NameError, ...)
        sys.exit(f"error: cannot load the --config file: {type(e).__name__}: {_one_line(e)}")
    app.run(lambda a: main(_quiet_libraries(a)), argv=argv, flags_parser=lambda a: a)


def _quiet_libraries(argv: list[str]) -> list[str]:
    """jaxgan's own INFO lines (resume, skipped files) stand alone: libraries log warnings and up."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", force=True)
    for noisy in ("absl", "jax", "orbax", "tensorflow", "tensorboardX", "etils"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return argv
