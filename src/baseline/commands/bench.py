"""CLI commands: sql-bench, event-bench, task-init-bench, e2e-bench (each writes run_dir/<phase>.json), and
paired-bench, an A/B block of one of them with both sides in turns (what `baseline ab` runs)."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from baseline import phases
from baseline.config import add_common_options, load_config
from baseline.errors import EXIT_OK, BadInput


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
    register_paired(subparsers)


def _run_paired(args: argparse.Namespace) -> int:
    from baseline.benches.paired import PAIR_ENV, run_paired

    raw = os.environ.get(PAIR_ENV)
    if not raw:
        raise BadInput(f"paired-bench needs {PAIR_ENV} (the sides' settings, as `baseline ab` sets it)")
    try:
        pair = json.loads(raw)
        order = [str(side) for side in pair["order"]]
        sides = {str(side): {str(k): str(v) for k, v in env.items()} for side, env in pair["sides"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadInput(f"{PAIR_ENV}: not a pair of sides ({exc})") from exc
    try:
        phase = phases.by_name(args.phase)
    except KeyError:
        raise BadInput(
            f"paired-bench: {args.phase!r} is not a bench (one of {', '.join(phases.BENCH_NAMES)})"
        ) from None
    if not phase.is_bench:
        raise BadInput(f"paired-bench: {args.phase!r} is not a bench (one of {', '.join(phases.BENCH_NAMES)})")
    configs = {side: load_config(args, environ={**os.environ, **env}) for side, env in sides.items()}
    for side, path in run_paired(configs, phase, order).items():
        print(f"paired-bench {phase.name} {side}: wrote {path}")
    return EXIT_OK


def register_paired(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "paired-bench",
        help="an A/B block of one bench, both sides in one process taking turns (run by `baseline ab`)",
        description="Measure one bench for the two sides of an A/B that BASELINE_PAIR describes, the sides taking "
        "turns every few timed calls, each writing its own result file.",
    )
    parser.add_argument("phase", help=f"the bench: {', '.join(phases.BENCH_NAMES)}")
    add_common_options(parser)
    parser.set_defaults(func=_run_paired)
