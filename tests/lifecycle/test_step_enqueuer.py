"""step_enqueuer: ready steps become `enqueued` with a queue message and a NOTIFY on their namespace channel."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import psycopg
import pytest

from tasker.db import step_channel
from tasker.orchestration.lifecycle import step_enqueuer
from tasker.tools.inprocess import step_states, task_state

pytestmark = pytest.mark.integration

PROCESSOR = uuid.uuid4()


def enqueue(conn: psycopg.Connection, task_uuid: uuid.UUID) -> list[str]:
    with conn.transaction():
        task = step_enqueuer.lock_task(conn, task_uuid)
        assert task is not None
        return step_enqueuer.enqueue_ready_steps(conn, task, PROCESSOR)


def complete(conn: psycopg.Connection, task_uuid: uuid.UUID, name: str) -> None:
    conn.execute(
        "SELECT tasker_transition_step(ws.workflow_step_uuid, 'complete') FROM workflow_steps ws "
        "JOIN named_steps n USING (named_step_uuid) WHERE ws.task_uuid = %s AND n.name = %s",
        (task_uuid, name),
    )


def test_roots_are_enqueued_once(
    conn: psycopg.Connection, new_task: Callable, listen: Callable, repeat: Callable
) -> None:
    listener = listen(step_channel("tree_workflow"))
    tasks = [new_task("tree") for _ in range(repeat(20))]
    for task_uuid in tasks:
        assert enqueue(conn, task_uuid) == ["root"]
        assert enqueue(conn, task_uuid) == []  # already enqueued: nothing new
        assert task_state(conn, task_uuid) == "steps_in_process"
        assert step_states(conn, task_uuid)["root"][0] == "enqueued"
    messages = conn.execute("SELECT namespace, message FROM step_queue_messages ORDER BY msg_id").fetchall()
    assert [(ns, m["task_uuid"], m["step_name"]) for ns, m in messages] == [
        ("tree_workflow", str(t), "root") for t in tasks
    ]
    assert {n.payload for n in listener.notifies(timeout=2, stop_after=len(tasks))} == {str(t) for t in tasks}


def test_fan_out_enqueues_every_branch(conn: psycopg.Connection, new_task: Callable, repeat: Callable) -> None:
    for _ in range(repeat(20)):
        task_uuid = new_task("diamond")
        assert enqueue(conn, task_uuid) == ["diamond_start"]
        complete(conn, task_uuid, "diamond_start")
        assert sorted(enqueue(conn, task_uuid)) == ["diamond_branch_b", "diamond_branch_c"]
        complete(conn, task_uuid, "diamond_branch_b")
        assert enqueue(conn, task_uuid) == []  # the join still waits for branch c
        complete(conn, task_uuid, "diamond_branch_c")
        assert enqueue(conn, task_uuid) == ["diamond_end"]


def test_lock_task_of_unknown_task(conn: psycopg.Connection) -> None:
    assert step_enqueuer.lock_task(conn, uuid.uuid4()) is None


def test_lock_with_readiness_in_one_round_trip(conn: psycopg.Connection, new_task: Callable) -> None:
    assert step_enqueuer.lock_task_with_readiness(conn, uuid.uuid4()) == (None, [])
    task_uuid = new_task("complex_dag")
    with conn.transaction():
        task, steps = step_enqueuer.lock_task_with_readiness(conn, task_uuid)
    assert task is not None and (task.namespace, task.state) == ("complex_workflow", "pending")
    assert sorted(s.name for s in steps if s.ready) == ["init"] and len(steps) == 7
