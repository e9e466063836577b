"""``rarelab``: the headless command line over the same core the widgets use.

:func:`build_parser` declares every command, option and help text; each command's body
is a few calls of the core (``rarelab.comparison``, ``rarelab.search``, ...).
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import warnings

from ..exceptions import RarelabError
from ._commands import COMMANDS
from ._parser import add_simulation_arguments, build_parser, config_from_args, parse_seeds, parse_strategies


def main(argv=None) -> int:
    """Run ``rarelab`` with ``argv`` (``sys.argv[1:]`` by default); returns the exit code.

    Everything a user can cause (bad input, a missing or unreadable file, a locked store)
    is one line on standard error and exit code 2, never a traceback.
    """
    a = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return COMMANDS[a.command](a)
    except BrokenPipeError:  # `rarelab ... | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (RarelabError, OSError, json.JSONDecodeError, sqlite3.Error) as exc:
        kind = "" if isinstance(exc, RarelabError) else type(exc).__name__ + ": "
        print(f"rarelab: error: {kind}{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rarelab: interrupted; every committed label and feature chunk is kept.", file=sys.stderr)
        return 130


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning on the command line: one line, as the errors are, without the source location."""
    print(f"rarelab: warning: {message}", file=sys.stderr)


__all__ = ["add_simulation_arguments", "build_parser", "config_from_args", "main", "parse_seeds", "parse_strategies"]
