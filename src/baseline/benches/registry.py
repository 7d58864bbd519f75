"""Every bench the refactor plan names, implemented or not, so `audit` can list them honestly."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BenchEntry:
    """One registered bench: its cases are ids or `*` patterns of the result-file case ids."""

    name: str
    phase: str
    session: str | None
    cases: tuple[str, ...]
    command: str | None
    implemented: bool
    description: str = ""


BENCHES: list[BenchEntry] = [
    BenchEntry(
        "SQL function benchmarks",
        "sql",
        "sql_bench",
        (
            "sql/get_next_ready_tasks/batch_size={1,10,50,100}",
            "sql/get_step_readiness_status/sample={1..5}",
            "sql/get_task_execution_context/sample={1..5}",
            "sql/transition_task_state_atomic/sample={1..5}",
            "sql/get_step_transitive_dependencies/sample={1..10}",
            "sql/calibrate/select_1",
            "sql/calibrate/select_1_after_idle",
            "sql/calibrate/cpu_loop",
            "sql/calibrate/harness/get_step_readiness_status",
            "sql/calibrate/bare_psycopg/get_step_readiness_status",
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
        ("task_init/create_task/workflow={linear,diamond}", "task_init/calibrate/get_health"),
        "nox -s task_init_bench",
        True,
        "POST /v1/tasks over a keep-alive session, 201 asserted, paced (one task in the engine at a time); "
        "GET /health as the HTTP floor",
    ),
    BenchEntry(
        "End-to-end workflow latency",
        "e2e",
        "e2e_bench",
        ("e2e/workflow/{linear,diamond,complex_dag,hierarchical_tree}",),
        "nox -s e2e_bench",
        True,
        "POST start -> completion NOTIFY, every task verified afterwards",
    ),
    BenchEntry(
        "Orchestration coordination latency",
        "orchestration",
        "e2e_bench",
        ("orchestration/task_start", "orchestration/result_processing"),
        "nox -s e2e_bench",
        True,
        "per hand-off of the e2e bench's timed tasks, from the engine's transition timestamps: wake-up, step "
        "discovery and queue publishing (the plan's step discovery, queue publishing, notification overhead)",
    ),
    BenchEntry(
        "Worker processing cycle",
        "worker",
        "e2e_bench",
        ("worker/claim", "worker/execute_submit"),
        "nox -s e2e_bench",
        True,
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


def implemented() -> list[BenchEntry]:
    return [b for b in BENCHES if b.implemented]


def placeholders() -> list[BenchEntry]:
    return [b for b in BENCHES if not b.implemented]
