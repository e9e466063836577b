"""Write ``cli.md``: every ``rarelab`` command's ``--help``, from the parser itself."""

from __future__ import annotations

import argparse
from pathlib import Path


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:  # argparse keeps its subcommands here and nowhere public
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def write_cli_reference(path: Path) -> None:
    from rarelab.cli import build_parser

    parser = build_parser()
    parts = [
        "# Command line\n",
        "Generated from `rarelab --help` when the site is built.\n",
        "```text\n" + parser.format_help() + "```\n",
    ]
    for name, sub in _subparsers(parser):
        parts.append(f"## rarelab {name}\n\n```text\n{sub.format_help()}```\n")
        for inner, leaf in _subparsers(sub):
            parts.append(f"### rarelab {name} {inner}\n\n```text\n{leaf.format_help()}```\n")
    text = "\n".join(parts)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
