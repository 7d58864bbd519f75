"""Lifecycle fixtures over the shared migrated databases (tests/conftest.py): tasks created by the API's code, the
orchestrator's and worker's own objects driven in this process, listeners, and readers of task and step states."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tasker.orchestration.orchestrator import Orchestrator
from tasker.worker import Worker

WORKFLOWS = {
    "linear": ("linear_workflow", "mathematical_sequence"),
    "diamond": ("diamond_workflow", "diamond_pattern"),
    "complex_dag": ("complex_workflow", "complex_dag"),
    "tree": ("tree_workflow", "hierarchical_tree"),
}

StepStates = Callable[[uuid.UUID], dict[str, tuple[str, int, Any]]]


@pytest.fixture
def listen(clean_dsn: str) -> Iterator[Callable[[str], psycopg.Connection]]:
    """listen(channel) -> a connection LISTENing on it (closed after the test)."""
    opened: list[psycopg.Connection] = []

    def make(channel: str) -> psycopg.Connection:
        c = psycopg.connect(clean_dsn, autocommit=True)
        c.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.close()


@pytest.fixture
def new_task(clean_dsn: str, create_task: Callable[..., Any]) -> Callable[..., uuid.UUID]:
    """new_task(key, **context) -> task uuid, created as POST /v1/tasks creates it (initialize_task_async)."""

    def make(key: str, **context: object) -> uuid.UUID:
        namespace, name = WORKFLOWS[key]
        task_uuid: uuid.UUID = create_task(clean_dsn, namespace, name, {"even_number": 6, **context}).task_uuid
        return task_uuid

    return make


@pytest.fixture
def orchestrator(clean_dsn: str) -> Orchestrator:
    return Orchestrator(clean_dsn)


@pytest.fixture
def worker(clean_dsn: str) -> Worker:
    """A claim loop in the engine's test mode: the contexts' `_fail_attempts` and `_sleep_ms` apply."""
    return Worker(clean_dsn, test_hooks=True)


@pytest.fixture
def run_until_idle(conn: psycopg.Connection, orchestrator: Orchestrator, worker: Worker) -> Callable[[], int]:
    """run_until_idle() -> steps executed: the worker's step (claim, handler, submit) and the orchestrator's result
    processing, alternated on one connection until neither has work (what the processes do, one hand-off at a time)."""

    def run(max_hops: int = 1000) -> int:
        executed = 0
        for _ in range(max_hops):
            ran = worker.run_one(conn)
            executed += int(ran)
            processed = orchestrator.drain_results(conn)
            if not ran and not processed:
                return executed
        raise RuntimeError(f"still busy after {max_hops} hand-offs")

    return run


@pytest.fixture
def step_states(conn: psycopg.Connection) -> StepStates:
    """step_states(task) -> {step name: (current state, attempts, results)}"""

    def read(task_uuid: uuid.UUID) -> dict[str, tuple[str, int, Any]]:
        rows = conn.execute(
            "SELECT r.name, r.current_state, r.attempts, ws.results FROM get_step_readiness_status(%s) r "
            "JOIN workflow_steps ws ON ws.workflow_step_uuid = r.workflow_step_uuid",
            (task_uuid,),
        ).fetchall()
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    return read


@pytest.fixture
def task_state(conn: psycopg.Connection) -> Callable[[uuid.UUID], str]:
    """task_state(task) -> its current state."""

    def read(task_uuid: uuid.UUID) -> str:
        row = conn.execute(
            "SELECT to_state FROM task_transitions WHERE task_uuid = %s AND most_recent", (task_uuid,)
        ).fetchone()
        if row is None:
            raise LookupError(f"task {task_uuid} does not exist")
        return str(row[0])

    return read
