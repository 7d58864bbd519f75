"""step_enqueuer: ready steps become `enqueued` with a queue message and a NOTIFY on their namespace channel, through
the orchestrator's calls (start_task for a new task, the poll's enqueue_ready_steps) and the result hand-off."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tasker.db import step_channel
from tasker.orchestration.lifecycle import result_processor, step_enqueuer
from tasker.orchestration.orchestrator import Orchestrator
from tasker.worker import Worker

pytestmark = pytest.mark.integration

PROCESSOR = uuid.uuid4()


def start(conn: psycopg.Connection, task_uuid: uuid.UUID) -> list[str] | None:
    started = step_enqueuer.start_task(conn, task_uuid, PROCESSOR)
    assert started is not None and started.finalization is None
    return started.enqueued


def run_step(conn: psycopg.Connection, worker: Worker) -> list[str]:
    """One step by the worker's code, its result by the orchestrator's: the names this enqueued."""
    step = worker.claim(conn)
    assert step is not None
    worker.submit(conn, step, worker.execute(step))
    processed = result_processor.process_next_result(conn, PROCESSOR)
    assert processed is not None and processed.outcome == "complete"
    return processed.enqueued


def test_roots_are_enqueued_once(
    conn: psycopg.Connection,
    new_task: Callable[..., uuid.UUID],
    listen: Callable[[str], psycopg.Connection],
    repeat: Callable[[int], int],
    task_state: Callable[[uuid.UUID], str],
    step_states: Callable[[uuid.UUID], dict[str, tuple[str, int, Any]]],
) -> None:
    listener = listen(step_channel("tree_workflow"))
    tasks = [new_task("tree") for _ in range(repeat(20))]
    for task_uuid in tasks:
        assert start(conn, task_uuid) == ["root"]
        assert start(conn, task_uuid) == []  # already enqueued: nothing new, nothing settled
        assert task_state(task_uuid) == "steps_in_process"
        assert step_states(task_uuid)["root"][0] == "enqueued"
    messages = conn.execute("SELECT namespace, message FROM step_queue_messages ORDER BY msg_id").fetchall()
    assert [(ns, m["task_uuid"], m["step_name"]) for ns, m in messages] == [
        ("tree_workflow", str(t), "root") for t in tasks
    ]
    assert {n.payload for n in listener.notifies(timeout=2, stop_after=len(tasks))} == {str(t) for t in tasks}


def test_fan_out_enqueues_every_branch_and_the_join_waits(
    conn: psycopg.Connection, new_task: Callable[..., uuid.UUID], worker: Worker, repeat: Callable[[int], int]
) -> None:
    for _ in range(repeat(20)):
        task_uuid = new_task("diamond")
        assert start(conn, task_uuid) == ["diamond_start"]
        assert sorted(run_step(conn, worker)) == ["diamond_branch_b", "diamond_branch_c"]
        assert run_step(conn, worker) == []  # the join still waits for the other branch
        assert run_step(conn, worker) == ["diamond_end"]
        assert run_step(conn, worker) == []


def test_poll_enqueues_tasks_no_notification_brought(
    conn: psycopg.Connection,
    new_task: Callable[..., uuid.UUID],
    orchestrator: Orchestrator,
    repeat: Callable[[int], int],
    step_states: Callable[[uuid.UUID], dict[str, tuple[str, int, Any]]],
) -> None:
    for _ in range(repeat(5)):
        tasks = [new_task("complex_dag") for _ in range(orchestrator.batch_size)]
        assert orchestrator.poll(conn) == len(tasks)  # get_next_ready_tasks, then enqueue_ready_steps per task
        assert all(step_states(t)["init"][0] == "enqueued" for t in tasks)
        assert orchestrator.poll(conn) == 0  # steps_in_process now: nothing for the poll


def test_unknown_task(conn: psycopg.Connection) -> None:
    assert step_enqueuer.start_task(conn, uuid.uuid4(), PROCESSOR) is None
