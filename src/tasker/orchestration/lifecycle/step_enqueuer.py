"""step_enqueuer: publish a task's ready steps to its namespace queue, or settle the task when nothing can run.

Each entry point is one call of a server-side function (one round trip, one commit in autocommit):
`start_task` (tasker_start_task: lock the task, enqueue, finalize when nothing can run) for a new task, and
`enqueue_ready_steps` (tasker_enqueue_ready_steps) for a task the orchestrator's poll has locked. Each step's
`enqueued` transition and its queue message commit together, so a worker never sees a message for a step that is
not yet enqueued; the NOTIFY on its namespace channel is delivered at that commit.
Definitions: sql/functions/tasker_start_task.sql, sql/functions/tasker_enqueue_ready_steps.sql.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import psycopg

from tasker.orchestration.lifecycle import task_finalizer

_ENQUEUE_READY = "SELECT enqueued, in_flight, retry_waiting FROM tasker_enqueue_ready_steps(%s, %s, %s, %s)"
_START = "SELECT task_state, enqueued, execution_status, new_state FROM tasker_start_task(%s, %s)"


@dataclass(frozen=True)
class TaskRef:
    """A task the caller's transaction has locked, with what the enqueue needs to know of it."""

    task_uuid: uuid.UUID
    namespace: str
    state: str


def enqueue_ready_steps(conn: psycopg.Connection, task: TaskRef, processor_uuid: uuid.UUID) -> list[str]:
    """Publish the ready steps of a task locked in the caller's transaction; returns their names."""
    row = conn.execute(_ENQUEUE_READY, (task.task_uuid, task.namespace, task.state, processor_uuid)).fetchone()
    return list(row[0]) if row else []


@dataclass(frozen=True)
class StartedTask:
    task_uuid: uuid.UUID | str
    state: str  # the task's state when it was locked
    enqueued: list[str] | None  # None: the task was terminal and left alone
    finalization: task_finalizer.Finalization | None  # set when nothing could run and the task was settled


def start_task(conn: psycopg.Connection, task_uuid: uuid.UUID | str, processor_uuid: uuid.UUID) -> StartedTask | None:
    """Lock a task, enqueue its ready steps, finalize it when nothing can run: one statement (its own commit in
    autocommit, synchronous when the task reaches a terminal state). None for an unknown task."""
    row = conn.execute(_START, (task_uuid, processor_uuid)).fetchone()
    if row is None:
        return None
    state, enqueued, execution_status, new_state = row
    return StartedTask(
        task_uuid,
        state,
        None if enqueued is None else list(enqueued),
        task_finalizer.settled(task_uuid, execution_status, new_state),
    )
