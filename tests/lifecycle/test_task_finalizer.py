"""task_finalizer: terminal states NOTIFY tasker_task_completed with the task uuid; others do not."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import psycopg
import pytest

from tasker.db import COMPLETION_CHANNEL
from tasker.orchestration.lifecycle import task_finalizer
from tasker.tools.inprocess import task_state

pytestmark = pytest.mark.integration

PROCESSOR = uuid.uuid4()


def set_all_steps(conn: psycopg.Connection, task_uuid: uuid.UUID, state: str) -> list[str]:
    rows = conn.execute(
        "SELECT tasker_transition_step(workflow_step_uuid, %s) FROM workflow_steps WHERE task_uuid = %s",
        (state, task_uuid),
    ).fetchall()
    return [state] * len(rows)


def finalize(conn: psycopg.Connection, task_uuid: uuid.UUID, states: list[str]) -> task_finalizer.Finalization:
    with conn.transaction():
        return task_finalizer.finalize_task(conn, task_uuid, task_state(conn, task_uuid), states, PROCESSOR)


def test_complete_tasks_notify_with_their_uuid(
    conn: psycopg.Connection, new_task: Callable, listen: Callable, repeat: Callable
) -> None:
    listener = listen(COMPLETION_CHANNEL)
    tasks = [new_task("complex_dag") for _ in range(repeat(30))]
    for task_uuid in tasks:
        outcome = finalize(conn, task_uuid, set_all_steps(conn, task_uuid, "complete"))
        assert (outcome.execution_status, outcome.state) == ("all_complete", "complete")
        assert finalize(conn, task_uuid, ["complete"]).state is None  # terminal: left alone
    assert [n.payload for n in listener.notifies(timeout=2, stop_after=len(tasks))] == [str(t) for t in tasks]
    assert conn.execute("SELECT bool_and(complete) FROM tasks").fetchone() == (True,)


def test_blocked_and_error_notify(conn: psycopg.Connection, new_task: Callable, listen: Callable) -> None:
    listener = listen(COMPLETION_CHANNEL)
    blocked = new_task("linear")
    conn.execute("UPDATE workflow_steps SET attempts = 3 WHERE task_uuid = %s", (blocked,))
    assert finalize(conn, blocked, set_all_steps(conn, blocked, "error")).state == "blocked_by_failures"
    broken = new_task("linear")
    with conn.transaction():
        task_finalizer.fail_task(conn, broken, PROCESSOR, "handler missing")
    assert task_state(conn, broken) == "error"
    assert [n.payload for n in listener.notifies(timeout=2, stop_after=2)] == [str(blocked), str(broken)]
    assert conn.execute("SELECT bool_or(complete) FROM tasks").fetchone() == (False,)


def test_waiting_tasks_do_not_notify(conn: psycopg.Connection, new_task: Callable, listen: Callable) -> None:
    listener = listen(COMPLETION_CHANNEL)
    task_uuid = new_task("linear")
    conn.execute("UPDATE workflow_steps SET attempts = 1, last_attempted_at = now() WHERE task_uuid = %s", (task_uuid,))
    outcome = finalize(conn, task_uuid, set_all_steps(conn, task_uuid, "waiting_for_retry"))
    assert (outcome.execution_status, outcome.state) == ("waiting_for_dependencies", "waiting_for_retry")
    assert list(listener.notifies(timeout=0.3)) == []
