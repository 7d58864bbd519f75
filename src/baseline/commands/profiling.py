"""CLI commands: lifecycle-profile (py-spy over the lifecycle tests) and profile-report (table of flamegraphs)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from baseline.config import Config
from baseline.errors import EXIT_FAILED, EXIT_OK, Failure


def _config(args: argparse.Namespace) -> Config:
    from baseline.config import ConfigError, load_config

    config = load_config(args)
    rate = getattr(args, "rate", None)
    if rate is not None:
        if rate < 1:
            raise ConfigError(f"--rate: expected samples per second >= 1, got {rate}")
        config = dataclasses.replace(config, profile_rate=rate)
    return config


def cmd_lifecycle_profile(args: argparse.Namespace) -> int:
    from baseline.profiling.lifecycle import profile_lifecycle

    config = _config(args)
    result = profile_lifecycle(config, idle=not args.no_idle)
    where = result.files.get("svg", result.folded)
    if not result.passed:
        print(result.output_tail, file=sys.stderr)
        raise Failure(
            f"the lifecycle tests exited with {result.returncode} "
            f"(output tail above; profile kept: {where}; record: {result.record})"
        )
    if result.profiler_returncode != 0:
        raise Failure(
            f"the tests passed but py-spy exited with {result.profiler_returncode} "
            f"({result.samples} samples); its output is in {result.record}"
        )
    print(f"lifecycle-profile: {result.samples} samples in {result.seconds:.1f} s -> {where} (+ {result.record.name})")
    return EXIT_OK


def cmd_profile_report(args: argparse.Namespace) -> int:
    from rich.table import Table

    from baseline.console import console as make_console
    from baseline.profiling.artifacts import write_report
    from baseline.profiling.report import format_top

    config = _config(args)
    label_dir = config.label_dir
    if not label_dir.is_dir():
        print(f"profile-report: no folder {label_dir}; run `invoke profile-all --label {config.label}` first")
        return EXIT_FAILED
    rows, path = write_report(label_dir, config.label)
    console = make_console()
    if not rows:
        console.print(f"profile-report: no profiles under {label_dir}/run-*/profiles/ (wrote {path})")
        return EXIT_FAILED
    table = Table(title=f"Flamegraphs of {config.label} (SVGs under {label_dir}/run-N/profiles/)")
    table.add_column("run", justify="right")
    table.add_column("profile")
    table.add_column("samples", justify="right")
    table.add_column("idle", justify="right")
    table.add_column("top frames (self share, working stacks)")
    for row in rows:
        name = row.name + (" [yellow](!)[/yellow]" if row.notes else "")
        table.add_row(str(row.run), name, str(row.samples), f"{row.idle_share * 100:.0f}%", format_top(row))
    console.print(table)
    for row in rows:
        for note in row.notes:
            console.print(f"[yellow]run {row.run} {row.name}: {note}[/yellow]")
    console.print(f"wrote {path}")
    return EXIT_OK


def register(subparsers: Any) -> None:
    """Add lifecycle-profile and profile-report."""
    from baseline.config import add_common_options

    lifecycle = subparsers.add_parser(
        "lifecycle-profile",
        help="py-spy over the lifecycle tests -> run_dir/profiles/lifecycle.{folded,svg,speedscope.json}",
    )
    add_common_options(lifecycle)
    lifecycle.add_argument("--rate", type=int, default=None, help="samples per second (default profile_rate, 100)")
    lifecycle.add_argument("--no-idle", action="store_true", help="drop waiting stacks (CPU-only profile)")
    lifecycle.set_defaults(func=cmd_lifecycle_profile)

    report = subparsers.add_parser(
        "profile-report", help="table of every flamegraph of a label -> profiles/<label>/profiles.md"
    )
    add_common_options(report)
    report.set_defaults(func=cmd_profile_report, rate=None)
