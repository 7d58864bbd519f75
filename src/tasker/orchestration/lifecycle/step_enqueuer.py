"""step_enqueuer: find a task's ready steps (get_step_readiness_status) and publish them to its namespace queue.

The step's `enqueued` transition and its queue message commit in the caller's transaction, so a worker never
sees a message for a step that is not yet marked enqueued; the NOTIFY is delivered at that commit.
Every function here runs inside the caller's transaction, with the task row locked by `lock_task`.
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
    """Readiness query plus publishing, for a task locked in the caller's transaction."""
    return enqueue_steps(conn, task, fetch_readiness(conn, task.task_uuid), processor_uuid)
