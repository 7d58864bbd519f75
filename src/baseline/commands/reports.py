"""CLI commands: summarize, report, compare, export.

Exit codes: 0 success (compare: every gate holds), 1 a compare gate failed, 2 bad input (missing label,
corrupt or incompatible file, bad criteria or config, environment mismatch under --strict), each with a
one-line message naming what to fix.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from baseline import exports, store, summary
from baseline.config import ConfigError, add_common_options, load_config

EXIT_BAD_INPUT = 2
_INPUT_ERRORS = (ConfigError, store.StoreError, summary.SummaryError, ValueError)


def _guarded(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn bad-input exceptions into exit code 2 with one line on stderr (no traceback)."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except _INPUT_ERRORS as exc:
            print(f"baseline {args.command}: error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT

    return run


def cmd_summarize(args: argparse.Namespace) -> int:
    config = load_config(args)
    _, paths = summary.write_summary(config.label_dir, cv_threshold=config.stability_cv)
    for path in paths:
        print(path)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Re-render report.md / report.html from summary.json (summarizing first when there is none)."""
    config = load_config(args)
    if (config.label_dir / "summary.json").exists():
        paths = summary.write_reports(config.label_dir, summary.read_summary(config.label_dir))
    else:
        _, paths = summary.write_summary(config.label_dir, cv_threshold=config.stability_cv)
    for path in paths:
        print(path)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from baseline import compare_io

    config = load_config(args)
    verdict, code = compare_io.compare_labels(
        config.output_dir, args.base, args.head, criteria=config.criteria, strict=args.strict
    )
    print(compare_io.console_summary(verdict))
    return code


def cmd_export(args: argparse.Namespace) -> int:
    config = load_config(args)
    path = exports.export_label(
        config.label_dir,
        args.format,
        cv_threshold=config.stability_cv,
        output=Path(args.output) if args.output else None,
    )
    print(path)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add summarize, report, compare and export."""
    p = subparsers.add_parser("summarize", help="summary.json, report.md and report.html of a label")
    add_common_options(p)
    p.set_defaults(func=_guarded(cmd_summarize))

    p = subparsers.add_parser("report", help="re-render a label's report.md and report.html from summary.json")
    add_common_options(p)
    p.set_defaults(func=_guarded(cmd_report))

    p = subparsers.add_parser(
        "compare",
        help="compare two labels; exit 0 when every gate holds, 1 when one fails, 2 on bad input",
    )
    p.add_argument("--base", default="pre-refactor", help="baseline label (default pre-refactor)")
    p.add_argument("--head", default="post-refactor", help="label to judge (default post-refactor)")
    p.add_argument(
        "--strict", action="store_true", help="exit 2 when the environments differ (PostgreSQL, CPU, dataset, config)"
    )
    p.set_defaults(func=_guarded(cmd_compare))

    p = subparsers.add_parser("export", help="a label's results as Bencher (BMF) or github-action-benchmark JSON")
    add_common_options(p)
    p.add_argument("--format", choices=exports.FORMATS, default="bencher", help="bencher (default) or github")
    p.add_argument("--output", metavar="PATH", default=None, help="file to write (default: in the label folder)")
    p.set_defaults(func=_guarded(cmd_export))
