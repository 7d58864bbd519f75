"""CLI commands: summarize, report, compare, export.

compare exits 0 when every gate holds, 1 when one fails, 2 on bad input (missing label, corrupt or incompatible
file, bad criteria or config, environments or bench code that differ under --strict).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from baseline import exports, summary
from baseline.config import Config, add_common_options, check_label, load_config
from baseline.errors import EXIT_OK


def cmd_summarize(args: argparse.Namespace) -> int:
    config = load_config(args)
    _, paths = summary.write_summary(config.label_dir, cv_threshold=config.stability_cv)
    for path in paths:
        print(path)
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Re-render report.md / report.html from summary.json (summarizing first when there is none)."""
    from baseline.results import read_summary

    config = load_config(args)
    if (config.label_dir / "summary.json").exists():
        paths = summary.write_reports(config.label_dir, read_summary(config.label_dir))
    else:
        _, paths = summary.write_summary(config.label_dir, cv_threshold=config.stability_cv)
    for path in paths:
        print(path)
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from baseline import compare_io

    config = load_config(args)
    if args.remeasure:
        return _remeasure(config, args)
    verdict, code = compare_io.compare_labels(
        config.output_dir,
        args.base,
        args.head,
        criteria=config.criteria,
        strict=args.strict,
        allow_mismatch=args.allow_mismatch,
    )
    print(compare_io.console_summary(verdict))
    return code


def _remeasure(config: Config, args: argparse.Namespace) -> int:
    """Rebuild the base label's recorded commit and A/B it against the working tree (the same minutes, the same
    harness), instead of comparing with numbers taken hours or days before."""
    from baseline import compare_io
    from baseline.commands.pipeline import run_ab
    from baseline.errors import BadInput
    from baseline.results import load_label

    commit, dirty = compare_io.recorded_commit(load_label(config.output_dir / check_label("--base", args.base)))
    if dirty:
        raise BadInput(
            f"label {args.base!r} was recorded from a tree with uncommitted changes (commit {commit[:12]} plus "
            "changes git does not keep): it cannot be rebuilt; record the base from a clean commit"
        )
    return run_ab(config, args, base=commit, head=None)


def cmd_export(args: argparse.Namespace) -> int:
    config = load_config(args)
    path = exports.export_label(
        config.label_dir,
        args.format,
        cv_threshold=config.stability_cv,
        output=Path(args.output) if args.output else None,
    )
    print(path)
    return EXIT_OK


def register(subparsers: Any) -> None:
    """Add summarize, report, compare and export."""
    p = subparsers.add_parser("summarize", help="summary.json, report.md and report.html of a label")
    add_common_options(p)
    p.set_defaults(func=cmd_summarize)

    p = subparsers.add_parser("report", help="re-render a label's report.md and report.html from summary.json")
    add_common_options(p)
    p.set_defaults(func=cmd_report)

    p = subparsers.add_parser(
        "compare",
        help="compare two labels; exit 0 when every gate holds, 1 when one fails, 2 on bad input",
    )
    p.add_argument("--base", default="pre-refactor", help="baseline label (default pre-refactor)")
    p.add_argument("--head", default="post-refactor", help="label to judge (default post-refactor)")
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 2 when the environments (PostgreSQL, CPU, dataset, config) or the bench code differ",
    )
    p.add_argument(
        "--allow-mismatch",
        action="store_true",
        help="compare what both labels have although a case, phase or run is missing on one side or the config "
        "differs (marked in the report); without it that is bad input (exit 2)",
    )
    p.add_argument(
        "--remeasure",
        action="store_true",
        help="rebuild the base label's recorded commit and A/B it against the working tree, in the same minutes "
        "(-> profiles/ab/...); refuses a base recorded from a dirty tree",
    )
    p.add_argument("--quick", action="store_true", default=None, help="with --remeasure: smoke sizes")
    p.set_defaults(func=cmd_compare)

    p = subparsers.add_parser("export", help="a label's results as Bencher (BMF) or github-action-benchmark JSON")
    add_common_options(p)
    p.add_argument("--format", choices=exports.FORMATS, default="bencher", help="bencher (default) or github")
    p.add_argument("--output", metavar="PATH", default=None, help="file to write (default: in the label folder)")
    p.set_defaults(func=cmd_export)
