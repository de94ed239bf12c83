"""Entry-point helpers: absl flag errors (unknown or ill-typed config fields) as one clear line."""
from __future__ import annotations

import sys
from typing import Callable

from absl import app, flags


def run_absl_app(main: Callable[[list[str]], None]) -> None:
    """Parses flags and runs ``main``; a bad flag or config override exits with a one-line message."""
    try:
        argv = flags.FLAGS(sys.argv)
    except flags.Error as e:
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        sys.exit(f"error: {message}")
    app.run(main, argv=argv, flags_parser=lambda a: a)
