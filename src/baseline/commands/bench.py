"""CLI commands: sql-bench, event-bench, task-init-bench, e2e-bench (each writes run_dir/<phase>.json)."""

from __future__ import annotations

import argparse
from typing import Any

from baseline import phases
from baseline.config import add_common_options, load_config
from baseline.errors import EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from baseline.benches.common import run_bench
    from baseline.reports.text import case_group_lines

    config = load_config(args)
    path, cases = run_bench(config, phases.by_command(args.command))
    for line in case_group_lines(cases):
        print(f"  {line}")
    print(f"{args.command}: wrote {path}")
    return EXIT_OK


def register(subparsers: Any) -> None:
    """Add a command per bench phase, each with the common options."""
    for phase in phases.BENCHES:
        parser = subparsers.add_parser(
            phase.command,
            help=f"{phase.title} -> profiles/<label>/run-<N>/{phase.name}.json",
            description=f"Measure {phase.title}; starts the services it needs when none are up.",
        )
        add_common_options(parser)
        parser.set_defaults(func=_run)
