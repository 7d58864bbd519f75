"""Drive the real orchestrator and worker code in one process, one hand-off at a time (tests, profiling)."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from tasker.orchestration.orchestrator import Orchestrator
from tasker.worker import Worker


def run_until_idle(conn: psycopg.Connection, orchestrator: Orchestrator, worker: Worker, max_hops: int = 1000) -> int:
    """Alternate worker steps and result processing until neither has work; returns the steps executed."""
    executed = 0
    for _ in range(max_hops):
        ran = worker.run_one(conn)
        executed += int(ran)
        processed = orchestrator.drain_results(conn)
        if not ran and not processed:
            return executed
    raise RuntimeError(f"still busy after {max_hops} hand-offs")


def step_states(conn: psycopg.Connection, task_uuid: uuid.UUID | str) -> dict[str, tuple[str, int, Any]]:
    """{step name: (current state, attempts, results)}"""
    rows = conn.execute(
        "SELECT r.name, r.current_state, r.attempts, ws.results FROM get_step_readiness_status(%s) r "
        "JOIN workflow_steps ws ON ws.workflow_step_uuid = r.workflow_step_uuid",
        (task_uuid,),
    ).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def task_state(conn: psycopg.Connection, task_uuid: uuid.UUID | str) -> str:
    row = conn.execute(
        "SELECT to_state FROM task_transitions WHERE task_uuid = %s AND most_recent", (task_uuid,)
    ).fetchone()
    if row is None:
        raise LookupError(f"task {task_uuid} does not exist")
    return str(row[0])
