"""Entry-point helpers: absl flag errors (unknown or ill-typed config fields, a broken config file) as one
clear line."""
from __future__ import annotations

import sys
from typing import Callable

from absl import app, flags


def _one_line(error: BaseException) -> str:
    text = str(error.args[0]) if error.args else str(error)
    text = text.replace("\\n", " ").replace("\\'", "'").replace("\n", " ")
    text = " ".join(text.split())
    if len(text) > 1 and text[0] == text[-1] == "'":      # KeyError's repr quotes
        text = text[1:-1]
    return text


def run_absl_app(main: Callable[[list[str]], None]) -> None:
    """Parses flags and runs ``main``; a bad flag or config override exits with a one-line message."""
    try:
        argv = flags.FLAGS(sys.argv)
    except (flags.Error, AttributeError, KeyError, TypeError, ValueError) as e:
        kind = "unknown config field" if isinstance(e, (AttributeError, KeyError)) else "bad flag"
        sys.exit(f"error: {kind}: {_one_line(e)}")
    except Exception as e:  # noqa: BLE001  a --config file that runs but fails (SyntaxError, NameError, ...)
        sys.exit(f"error: cannot load the --config file: {type(e).__name__}: {_one_line(e)}")
    app.run(main, argv=argv, flags_parser=lambda a: a)
