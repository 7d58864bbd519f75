"""`baseline`: benchmark and profile a PostgreSQL-backed workflow service, before and after a refactor.

Every command exits 0 on success, 1 when something measured or started failed (or a compare gate failed), and
2 on bad input; the message says what to fix. Run `baseline COMMAND --help` for a command's options.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from baseline import __version__
from baseline.errors import HarnessError

# Each module exposes `register(subparsers)`; a subcommand sets `func(args) -> int` via set_defaults.
COMMAND_MODULES = (
    "baseline.commands.pipeline",
    "baseline.commands.bench",
    "baseline.commands.services",
    "baseline.commands.profiling",
    "baseline.commands.reports",
    "baseline.commands.compose",
)
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baseline", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Exit codes are decided here and only here: a HarnessError says its kind; anything else is a bug and keeps
    its traceback."""
    try:
        return int(args.func(args) or 0)
    except HarnessError as exc:
        print(f"baseline {args.command}: {exc.kind}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"baseline {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
