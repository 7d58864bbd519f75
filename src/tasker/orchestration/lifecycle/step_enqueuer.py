"""step_enqueuer: find a task's ready steps (get_step_readiness_status) and publish them to its namespace queue.

The step's `enqueued` transition and its queue message commit in the caller's transaction, so a worker never
sees a message for a step that is not yet marked enqueued; the NOTIFY is delivered at that commit.
The hot paths are one server-side call each (sql/0003_handoffs.sql): `start_task` (lock, enqueue, finalize when
nothing can run) and `enqueue_ready_steps` (readiness + publishing); one round trip instead of several client
statements, which cost the orchestrator more CPU than the work they carried. The other functions run inside the
caller's transaction, with the task row locked by `lock_task`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import psycopg

from tasker.db import step_channel
from tasker.states import STEP_IN_FLIGHT_STATES, TASK_STEPS_IN_PROCESS

_LOCK_TASK = (
    "SELECT t.task_uuid, ns.name, tt.to_state FROM tasks t "
    "JOIN named_tasks nt ON nt.named_task_uuid = t.named_task_uuid "
    "JOIN task_namespaces ns ON ns.task_namespace_uuid = nt.task_namespace_uuid "
    "JOIN task_transitions tt ON tt.task_uuid = t.task_uuid AND tt.most_recent "
    "WHERE t.task_uuid = %s FOR UPDATE OF t"
)
# Every ready step: `enqueued` transition + queue message; one NOTIFY; the task to steps_in_process if needed.
_ENQUEUE = """
WITH ready AS (
    SELECT * FROM unnest(%(steps)s::uuid[], %(names)s::text[]) AS r(step_uuid, step_name)
), moved AS (
    SELECT tasker_transition_step(r.step_uuid, 'enqueued') FROM ready r
), queued AS (
    INSERT INTO step_queue_messages (namespace, message)
    SELECT %(namespace)s,
           jsonb_build_object('task_uuid', %(task)s::text, 'step_uuid', r.step_uuid, 'step_name', r.step_name)
    FROM ready r
    RETURNING 1
), task_moved AS (
    SELECT tasker_transition_task(%(task)s, 'steps_in_process', %(processor)s) WHERE %(move_task)s
)
SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM queued), (SELECT count(*) FROM task_moved),
       pg_notify(%(channel)s, %(task)s::text)
"""
_ENQUEUE_READY = "SELECT enqueued, in_flight, retry_waiting FROM tasker_enqueue_ready_steps(%s, %s, %s, %s)"
_START = "SELECT task_state, enqueued, execution_status, new_state FROM tasker_start_task(%s, %s)"
_READINESS = "SELECT workflow_step_uuid, name, current_state, ready_for_execution FROM get_step_readiness_status(%s)"


@dataclass(frozen=True)
class TaskRef:
    task_uuid: uuid.UUID
    namespace: str
    state: str


@dataclass(frozen=True)
class StepReadiness:
    step_uuid: uuid.UUID
    name: str
    state: str
    ready: bool


def lock_task(conn: psycopg.Connection, task_uuid: uuid.UUID | str) -> TaskRef | None:
    """Lock the task row for this transaction (serialises orchestrators working on one task)."""
    row = conn.execute(_LOCK_TASK, (task_uuid,)).fetchone()
    return None if row is None else TaskRef(row[0], row[1], row[2])


def lock_task_with_readiness(
    conn: psycopg.Connection, task_uuid: uuid.UUID | str
) -> tuple[TaskRef | None, list[StepReadiness]]:
    """lock_task then fetch_readiness (the readiness is read while the lock is held)."""
    task = lock_task(conn, task_uuid)
    return (None, []) if task is None else (task, fetch_readiness(conn, task.task_uuid))


def fetch_readiness(conn: psycopg.Connection, task_uuid: uuid.UUID) -> list[StepReadiness]:
    return [StepReadiness(*row) for row in conn.execute(_READINESS, (task_uuid,)).fetchall()]


def any_in_flight(steps: list[StepReadiness]) -> bool:
    return any(s.state in STEP_IN_FLIGHT_STATES for s in steps)


def enqueue_steps(
    conn: psycopg.Connection, task: TaskRef, steps: list[StepReadiness], processor_uuid: uuid.UUID
) -> list[str]:
    """Publish the ready ones among `steps` (one statement); returns their names."""
    ready = [s for s in steps if s.ready]
    if not ready:
        return []
    conn.execute(
        _ENQUEUE,
        {
            "steps": [s.step_uuid for s in ready],
            "names": [s.name for s in ready],
            "namespace": task.namespace,
            "task": task.task_uuid,
            "processor": processor_uuid,
            "move_task": task.state != TASK_STEPS_IN_PROCESS,
            "channel": step_channel(task.namespace),
        },
    )
    return [s.name for s in ready]


def enqueue_ready_steps(conn: psycopg.Connection, task: TaskRef, processor_uuid: uuid.UUID) -> list[str]:
    """Readiness query plus publishing (one statement), for a task locked in the caller's transaction."""
    row = conn.execute(_ENQUEUE_READY, (task.task_uuid, task.namespace, task.state, processor_uuid)).fetchone()
    return list(row[0]) if row else []


@dataclass(frozen=True)
class StartedTask:
    task_uuid: uuid.UUID | str
    state: str  # the task's state when it was locked
    enqueued: list[str] | None  # None: the task was terminal and left alone
    execution_status: str | None  # set when the task was finalized (nothing could run)
    new_state: str | None  # the state the finalizer moved it to, if any


def start_task(conn: psycopg.Connection, task_uuid: uuid.UUID | str, processor_uuid: uuid.UUID) -> StartedTask | None:
    """Lock a task, enqueue its ready steps, finalize it when nothing can run: one statement (its own commit in
    autocommit, synchronous when the task reaches a terminal state). None for an unknown task."""
    row = conn.execute(_START, (task_uuid, processor_uuid)).fetchone()
    if row is None:
        return None
    return StartedTask(task_uuid, row[0], None if row[1] is None else list(row[1]), row[2], row[3])
