"""CLI commands: up, down, status, build, audit."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.table import Table

from baseline.config import add_common_options, load_config
from baseline.console import console
from baseline.errors import EXIT_FAILED, EXIT_OK
from baseline.services.model import Stack


def _stack_table(title: str, stack: Stack, alive: dict[str, bool] | None = None) -> Table:
    table = Table(title=title)
    table.add_column("role")
    table.add_column("pid", justify="right")
    if alive is not None:
        table.add_column("alive")
    for role, pid in stack.pids.items():
        row = [role, str(pid)]
        if alive is not None:
            row.append("yes" if alive.get(role) else "NO")
        table.add_row(*row)
    return table


def _print_stack(title: str, stack: Stack, alive: dict[str, bool] | None = None) -> None:
    from baseline.services.state import describe

    data = describe(stack)
    console().print(_stack_table(title, stack, alive))
    print(f"services: {data['services']}\ndatabase: {data['dsn']}\napi:      {data['api_url']}")


def cmd_up(args: argparse.Namespace) -> int:
    import time

    from baseline.services.control import up
    from baseline.targets import target_for

    config = load_config(args)
    started = time.perf_counter()
    stack = up(config, target_for(config))
    _print_stack(f"stack up in {time.perf_counter() - started:.1f} s", stack)
    return EXIT_OK


def cmd_down(args: argparse.Namespace) -> int:
    from baseline.services.control import down

    config = load_config(args)
    print("stopped" if down(config) else "nothing was running")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    """0 when a recorded stack is healthy, 1 when none is recorded or part of it is down."""
    from baseline.services.state import read_state, stack_health

    config = load_config(args)
    stack = read_state(config)
    if stack is None:
        print("no stack is up (no state file); start one with `nox -s up`")
        return EXIT_FAILED
    health = stack_health(stack)
    _print_stack("stack " + ("healthy" if health["healthy"] else "UNHEALTHY"), stack, health["roles"])
    print(f"health:   api {'ok' if health['api'] else 'DOWN'}, database {'ok' if health['database'] else 'DOWN'}")
    return EXIT_OK if health["healthy"] else EXIT_FAILED


def cmd_build(args: argparse.Namespace) -> int:
    from baseline.build import clean_build
    from baseline.store import label_lock, write_json_atomic

    config = load_config(args)
    with label_lock(config):
        record = clean_build(config, keep=args.keep_venv, system_site_packages=args.system_site_packages)
        path = write_json_atomic(config.label_dir / "build.json", record)
    print(f"built {record['wheel']['name']} in {record['build_seconds']:.1f} s -> {path}")
    return EXIT_OK


def recorded_sample_counts(label_dir: Path) -> dict[str, int]:
    """Case id -> samples recorded in the label's newest run, to spot registered benches that yield nothing."""
    from baseline.results import StoreError, read_result, run_dirs

    runs = run_dirs(label_dir)
    counts: dict[str, int] = {}
    if not runs:
        return counts
    for path in sorted(runs[-1].glob("*.json")):
        try:
            result = read_result(path)
        except StoreError:
            continue
        for case in result["cases"]:
            counts[case["id"]] = len(case["samples"])
    return counts


def cmd_audit(args: argparse.Namespace) -> int:
    from baseline.audit import inventory, inventory_markdown
    from baseline.benches.registry import bench_entries
    from baseline.store import now_iso, write_text_atomic
    from baseline.targets import target_for

    config = load_config(args)
    recorded = recorded_sample_counts(config.label_dir)
    rows = inventory(list(bench_entries(target_for(config).workload)), recorded)
    path = write_text_atomic(
        config.output_dir / "inventory.md", inventory_markdown(rows, config.label if recorded else None, now_iso())
    )
    table = Table(title="benchmark inventory")
    for column in ("bench", "phase", "cases", "status", "run command"):
        table.add_column(column)
    for row in rows:
        style = "green" if row["status"] == "implemented" else "yellow"
        table.add_row(
            row["name"], row["phase"], "\n".join(row["cases"]), f"[{style}]{row['status']}[/]", row["command"]
        )
    console().print(table)
    print(f"written to {path}")
    return EXIT_OK


def register(subparsers: Any) -> None:
    """Add up, down, status, build and audit."""
    commands = [
        ("up", "start the services (fresh run database) and leave them running", cmd_up),
        ("down", "stop everything the state file lists", cmd_down),
        ("status", "show the recorded stack and whether each part is alive (exit 1 if not healthy)", cmd_status),
        ("build", "clean build in a fresh venv -> profiles/<label>/build.json", cmd_build),
        ("audit", "inventory of every registered bench -> profiles/inventory.md", cmd_audit),
    ]
    for name, help_text, func in commands:
        parser = subparsers.add_parser(name, help=help_text, description=help_text)
        add_common_options(parser)
        if name == "build":
            parser.add_argument("--keep-venv", action="store_true", help="keep the fresh venv (path in build.json)")
            parser.add_argument(
                "--system-site-packages",
                action="store_true",
                help="let the venv reuse this interpreter's packages (fast, not isolated; recorded)",
            )
        parser.set_defaults(func=func)
