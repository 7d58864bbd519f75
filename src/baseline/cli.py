"""`baseline` command line: each command family registers its subcommands from its own module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module exposes `register(subparsers)`; a subcommand sets `func(args) -> int` via set_defaults.
COMMAND_MODULES = (
    "baseline.commands.services",
    "baseline.commands.bench",
    "baseline.commands.profiling",
    "baseline.commands.reports",
    "baseline.commands.pipeline",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="baseline", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
