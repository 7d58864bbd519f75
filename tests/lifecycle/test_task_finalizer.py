"""task_finalizer's rule, as the hand-offs reach it: a task with nothing to run is settled; terminal states NOTIFY
tasker_task_completed with the task uuid, other states do not."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import psycopg
import pytest

from tasker.db import COMPLETION_CHANNEL
from tasker.orchestration.lifecycle import step_enqueuer, task_finalizer

pytestmark = pytest.mark.integration

PROCESSOR = uuid.uuid4()


def set_all_steps(conn: psycopg.Connection, task_uuid: uuid.UUID, state: str) -> None:
    conn.execute(
        "SELECT tasker_transition_step(workflow_step_uuid, %s) FROM workflow_steps WHERE task_uuid = %s",
        (state, task_uuid),
    )


def settle(conn: psycopg.Connection, task_uuid: uuid.UUID) -> task_finalizer.Finalization | None:
    """The orchestrator's hand-off for a task: with nothing to enqueue and nothing in flight, it settles the task."""
    started = step_enqueuer.start_task(conn, task_uuid, PROCESSOR)
    assert started is not None
    return started.finalization


def test_complete_tasks_notify_with_their_uuid(
    conn: psycopg.Connection,
    new_task: Callable[..., uuid.UUID],
    listen: Callable[[str], psycopg.Connection],
    repeat: Callable[[int], int],
) -> None:
    listener = listen(COMPLETION_CHANNEL)
    tasks = [new_task("complex_dag") for _ in range(repeat(30))]
    for task_uuid in tasks:
        set_all_steps(conn, task_uuid, "complete")
        outcome = settle(conn, task_uuid)
        assert outcome is not None and (outcome.execution_status, outcome.state) == ("all_complete", "complete")
        again = step_enqueuer.start_task(conn, task_uuid, PROCESSOR)
        assert again is not None and (again.state, again.enqueued, again.finalization) == ("complete", None, None)
    assert [n.payload for n in listener.notifies(timeout=2, stop_after=len(tasks))] == [str(t) for t in tasks]
    assert conn.execute("SELECT bool_and(complete) FROM tasks").fetchone() == (True,)


def test_blocked_notifies(
    conn: psycopg.Connection, new_task: Callable[..., uuid.UUID], listen: Callable[[str], psycopg.Connection]
) -> None:
    listener = listen(COMPLETION_CHANNEL)
    blocked = new_task("linear")
    conn.execute("UPDATE workflow_steps SET attempts = 3 WHERE task_uuid = %s", (blocked,))
    set_all_steps(conn, blocked, "error")
    outcome = settle(conn, blocked)
    assert outcome is not None and (outcome.execution_status, outcome.state) == (
        "blocked_by_failures",
        "blocked_by_failures",
    )
    assert [n.payload for n in listener.notifies(timeout=2, stop_after=1)] == [str(blocked)]
    assert conn.execute("SELECT bool_or(complete) FROM tasks").fetchone() == (False,)


def test_waiting_tasks_do_not_notify(
    conn: psycopg.Connection, new_task: Callable[..., uuid.UUID], listen: Callable[[str], psycopg.Connection]
) -> None:
    listener = listen(COMPLETION_CHANNEL)
    task_uuid = new_task("linear")
    conn.execute("UPDATE workflow_steps SET attempts = 1, last_attempted_at = now() WHERE task_uuid = %s", (task_uuid,))
    set_all_steps(conn, task_uuid, "waiting_for_retry")
    outcome = settle(conn, task_uuid)
    assert outcome is not None and (outcome.execution_status, outcome.state) == (
        "waiting_for_dependencies",
        "waiting_for_retry",
    )
    assert list(listener.notifies(timeout=0.3)) == []
