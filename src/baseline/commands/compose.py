"""CLI commands of the compose services: `images` (build or check them) and `net-sweep` (latency against delay)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from rich.table import Table

from baseline.config import Config, add_common_options, cli_values, load_config
from baseline.console import console
from baseline.errors import EXIT_OK, BadInput, Failure

DEFAULT_DELAYS = "0,0.5,2"
SWEEP_NOTE = (
    "Each delay is a fresh compose stack whose every container delays its outgoing packets by that much (tc netem "
    "on eth0): a round trip between two services grows by twice the delay, one between the bench client and a "
    "service by the delay once. p50 of every sample of the delay's runs pooled."
)


def cmd_images(args: argparse.Namespace) -> int:
    """Build the compose images whose inputs changed, check the others; prints each image and the time taken."""
    from baseline.services import docker_host, images

    config = load_config(args)
    started = time.monotonic()
    client = docker_host.client()
    try:
        built = images.ensure_images(config, client)
    finally:
        client.close()
    seconds = time.monotonic() - started
    table = Table(title=f"compose images ready in {seconds:.1f} s", title_justify="left")
    for column in ("image", "id", "this call"):
        table.add_column(column)
    for image in built.values():
        table.add_row(
            image.tag,
            image.id.removeprefix("sha256:")[:12],
            f"built in {image.seconds:.1f} s" if image.built else "cached",
        )
    console().print(table)
    return EXIT_OK


def parse_delays(text: str) -> list[float]:
    """'0,0.5,2' -> [0.0, 0.5, 2.0]; BadInput naming a value that is no delay."""
    delays: list[float] = []
    for part in text.split(","):
        try:
            value = float(part.strip())
        except ValueError:
            raise BadInput(
                f"--delays: {part.strip()!r} is not a number of milliseconds (e.g. --delays 0,0.5,2)"
            ) from None
        if not 0 <= value <= 1000:
            raise BadInput(f"--delays: {value:g} ms is outside 0..1000")
        delays.append(value)
    if not delays:
        raise BadInput("--delays: give at least one delay, e.g. --delays 0,0.5,2")
    return sorted(set(delays))


def delay_label(label: str, delay: float) -> str:
    return f"{label}-{delay:g}ms"


def _point(config: Config, delay: float) -> dict[str, Any]:
    """The pooled p50 per case of one delay's runs (E2E and task creation), read back from its result files."""
    from baseline.reports.netsweep import pooled_p50
    from baseline.results import StoreError, read_result, run_dirs

    samples: dict[str, list[list[int]]] = {}
    for run_dir in run_dirs(config.label_dir):
        for phase in ("task_init", "e2e"):
            try:
                result = read_result(run_dir / f"{phase}.json")
            except StoreError:
                continue
            for case in result["cases"]:
                if case["id"].startswith(("e2e/workflow/", "task_init/")):
                    samples.setdefault(case["id"], []).append(case["samples"])
    return {
        "delay_ms": delay,
        "label": config.label,
        "cases": {case_id: pooled_p50(runs) for case_id, runs in samples.items()},
    }


def cmd_net_sweep(args: argparse.Namespace) -> int:
    """Per delay, fresh compose stacks with that delay and the task-creation and E2E benches; then the report."""
    from baseline import phases
    from baseline.pipeline.plan import RunPlan, Step
    from baseline.pipeline.runner import Pipeline, run_failed

    delays = parse_delays(args.delays)
    raw = dict(vars(args))
    if raw.get("services") not in (None, "compose"):
        raise BadInput(f"net-sweep runs on compose services only, got --services {raw['services']}")
    label = raw.get("label") or "net-sweep"
    raw.update(services="compose", label=label, runs=raw.get("runs") or "1", net_delay_ms=None)
    sweep_config = load_config(raw)
    steps = (Step(phases.TASK_INIT), Step(phases.E2E))
    plans = [RunPlan(run, steps) for run in range(1, sweep_config.runs + 1)]
    points: list[dict[str, Any]] = []
    stopped: Failure | None = None
    for delay in delays:
        values = {**raw, "label": delay_label(label, delay), "net_delay_ms": f"{delay:g}"}
        config = load_config(values)
        pipeline = Pipeline(
            config, plans, cli_values=cli_values(values), build=False, verbose=args.verbose, console=console()
        )
        outcomes, _ = pipeline.run()
        failed = [o for o in outcomes if o.status != "complete"]
        if len(failed) == len(outcomes):
            stopped = Failure(f"net-sweep stopped at {delay:g} ms: every run failed ({failed[0].error})")
            break
        if failed:
            console().print(f"{delay:g} ms: {run_failed(outcomes)}")
        points.append(_point(config, delay))
    if points:
        _write_sweep(sweep_config, label, delays, points)
    if stopped is not None:
        raise stopped
    return EXIT_OK


def _write_sweep(config: Config, label: str, delays: list[float], points: list[dict[str, Any]]) -> None:
    """net_sweep.json, .md and .svg in the sweep's folder (what a sweep stopped early has measured, too)."""
    from baseline import store
    from baseline.reports.netsweep import sweep_markdown, sweep_svg

    record = {"label": label, "delays_ms": delays, "runs": config.runs, "note": SWEEP_NOTE, "points": points}
    text = sweep_markdown(label, points, SWEEP_NOTE)
    paths = [
        store.write_json_atomic(config.label_dir / "net_sweep.json", record),
        store.write_text_atomic(config.label_dir / "net_sweep.md", text),
        store.write_text_atomic(config.label_dir / "net_sweep.svg", sweep_svg(points)),
    ]
    console().print(text)
    for path in paths:
        console().print(f"  {path}")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "images",
        help="build the compose services' images whose inputs changed (cached otherwise); no registry needed",
    )
    add_common_options(p)
    p.set_defaults(func=cmd_images)

    p = subparsers.add_parser(
        "net-sweep",
        help="E2E and task-creation latency on compose services against a network delay per container",
        description="For each delay: fresh compose stacks whose containers delay their packets that much, the "
        "task-creation and E2E benches; then profiles/<label>/net_sweep.{json,md,svg}. Runs per delay: --runs "
        "(default 1).",
    )
    add_common_options(p)
    p.add_argument(
        "--delays", default=DEFAULT_DELAYS, metavar="MS,MS,...", help=f"delays in ms (default {DEFAULT_DELAYS})"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show every phase process's own output")
    p.set_defaults(func=cmd_net_sweep)
