"""Every bench the refactor plan names, implemented or not, so `audit` can list them honestly.

The case ids a bench records for a target come from the target (`Workload.audit_cases`) plus the harness's own
calibration cases; an implemented bench that recorded none of them shows as a placeholder.
"""

from __future__ import annotations

from dataclasses import dataclass

from baseline.benches.sql import CPU_CASE, IDLE_CASE, SELECT_1_CASE, bare_case, harness_case
from baseline.targets.contract import Workload


@dataclass(frozen=True)
class BenchEntry:
    """One registered bench: its cases are ids or `{a,b}` / `{1..5}` patterns of the result-file case ids."""

    name: str
    phase: str
    session: str | None
    cases: tuple[str, ...]
    command: str | None
    implemented: bool
    description: str = ""


def bench_entries(workload: Workload) -> list[BenchEntry]:
    """The plan's benches with the case ids they record for this workload."""
    target_cases = {phase: tuple(cases) for phase, cases in workload.audit_cases().items()}
    function = workload.calibration_case.split("/")[1] if workload.calibration_case.count("/") >= 2 else "?"
    return [
        BenchEntry(
            "SQL function benchmarks",
            "sql",
            "sql_bench",
            (
                *target_cases.get("sql", ()),
                SELECT_1_CASE,
                IDLE_CASE,
                CPU_CASE,
                harness_case(function),
                bare_case(function),
            ),
            "nox -s sql_bench",
            True,
            "client round trip per call, pg_stat_statements server time, EXPLAIN per function, harness calibration, "
            "host wake-up cost and CPU speed",
        ),
        BenchEntry(
            "Event propagation (LISTEN/NOTIFY)",
            "event",
            "event_bench",
            (
                "event/notify/payload={small,1KB,7KB}",
                "event/insert_notify/payload=small",
                "event/calibrate/harness_notify",
                "event/calibrate/bare_notify",
            ),
            "nox -s event_bench",
            True,
            "publish -> receipt on an open listener; insert + NOTIFY in one transaction; bare loop calibration",
        ),
        BenchEntry(
            "Task initialization (API task creation)",
            "task_init",
            "task_init_bench",
            (*target_cases.get("task_init", ()), "task_init/calibrate/get_health"),
            "nox -s task_init_bench",
            True,
            "POST /v1/tasks over a keep-alive session, 201 asserted, paced (one task in the engine at a time); "
            "GET /health as the HTTP floor",
        ),
        BenchEntry(
            "End-to-end workflow latency",
            "e2e",
            "e2e_bench",
            target_cases.get("e2e", ()),
            "nox -s e2e_bench",
            True,
            "POST start -> completion NOTIFY, every task verified afterwards",
        ),
        BenchEntry(
            "Orchestration coordination latency",
            "orchestration",
            "e2e_bench",
            target_cases.get("orchestration", ()),
            "nox -s e2e_bench",
            bool(target_cases.get("orchestration")),
            "per hand-off of the e2e bench's timed tasks, from the target's transition timestamps: wake-up, step "
            "discovery and queue publishing (the plan's step discovery, queue publishing, notification overhead)",
        ),
        BenchEntry(
            "Worker processing cycle",
            "worker",
            "e2e_bench",
            target_cases.get("worker", ()),
            "nox -s e2e_bench",
            bool(target_cases.get("worker")),
            "per step of the e2e bench's timed tasks: enqueued -> claimed; claimed -> result submitted",
        ),
        BenchEntry(
            "Framework overhead vs no-op handler",
            "framework",
            None,
            ("framework/noop_handler_vs_math",),
            None,
            False,
            "placeholder from the refactor plan: the engine's cost around a handler that does nothing",
        ),
    ]
