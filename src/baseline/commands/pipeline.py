"""CLI commands the invoke pipelines use between sessions: `mark-run` records a run's status in the manifest."""

from __future__ import annotations

import argparse
import sys

from baseline.config import ConfigError, add_common_options, load_config
from baseline.store import StoreError, now_iso, update_manifest

RUN_STATUSES = ("incomplete", "complete", "failed")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("mark-run", help="record a run's status (incomplete, complete, failed)")
    add_common_options(parser)
    parser.add_argument(
        "--status",
        default="incomplete",
        help="one of: " + ", ".join(RUN_STATUSES) + " (default incomplete: the run has started)",
    )
    parser.add_argument("--error", default=None, help="why the run failed (kept in the manifest)")
    parser.set_defaults(func=mark_run)


def mark_run(args: argparse.Namespace) -> int:
    """`incomplete` opens a run (started_at); `complete`/`failed` close it (finished_at)."""
    if args.status not in RUN_STATUSES:
        print(
            f"baseline mark-run: error: --status {args.status!r}: use one of {', '.join(RUN_STATUSES)}", file=sys.stderr
        )
        return 2
    try:
        config = load_config(args)
        stamp = "started_at" if args.status == "incomplete" else "finished_at"
        fields: dict[str, object] = {"status": args.status, stamp: now_iso()}
        if args.status == "incomplete":
            fields["error"] = None
        elif args.error:
            fields["error"] = args.error
        update_manifest(config, config.run, **fields)
    except (ConfigError, StoreError) as exc:
        print(f"baseline mark-run: error: {exc}", file=sys.stderr)
        return 2
    return 0
