"""CLI commands: sql-bench, event-bench, task-init-bench, e2e-bench (each writes run_dir/<phase>.json)."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any

# command -> (phase, "module:function"); each waits for the engine to work off the dataset's backlog first.
# sql measures on a private clone no engine process touches, but a draining engine would still take its CPU.
COMMANDS: dict[str, tuple[str, str]] = {
    "sql-bench": ("sql", "baseline.benches.sql:run_sql"),
    "event-bench": ("event", "baseline.benches.event:run_event"),
    "task-init-bench": ("task_init", "baseline.benches.task_init:run_task_init"),
    "e2e-bench": ("e2e", "baseline.benches.e2e:run_e2e"),
}
SETTLE = {"sql", "event", "task_init", "e2e"}


def _run(args: argparse.Namespace) -> int:
    from baseline.benches.common import BenchError, execute_bench
    from baseline.config import ConfigError, load_config

    phase, target = COMMANDS[args.command]
    try:
        config = load_config(args)
    except ConfigError as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 2
    module_name, _, function = target.partition(":")
    bench: Any = getattr(importlib.import_module(module_name), function)
    from baseline.services.processes import ProcessFailed
    from baseline.services.stack import StackError
    from baseline.store import StoreError

    setup_errors: tuple[type[Exception], ...] = (ConfigError,)
    failures: tuple[type[Exception], ...] = (BenchError, StackError, ProcessFailed, StoreError)
    if config.profile:  # py-spy is needed (and imported) only when profiling
        from baseline.profiling.capture import ProfilerError, ProfilerUnavailable

        setup_errors = (ConfigError, ProfilerUnavailable)
        failures = (*failures, ProfilerError)
    try:
        path = execute_bench(config, phase, bench, settle=phase in SETTLE)
    except setup_errors as exc:
        print(f"{args.command}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except failures as exc:
        print(f"{args.command}: FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"{args.command}: wrote {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the four bench commands, each with the common options."""
    from baseline.config import add_common_options

    for command, (phase, _) in COMMANDS.items():
        parser = subparsers.add_parser(command, help=f"run the {phase} bench -> run_dir/{phase}.json")
        add_common_options(parser)
        parser.set_defaults(func=_run)
