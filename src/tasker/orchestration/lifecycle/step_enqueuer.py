"""step_enqueuer: find a task's ready steps (get_step_readiness_status) and publish them to its namespace queue.

The step's `enqueued` transition and its queue message commit in the caller's transaction, so a worker never
sees a message for a step that is not yet marked enqueued; the NOTIFY is delivered at that commit.
Every function here runs inside the caller's transaction, with the task row locked by `lock_task`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import psycopg

from tasker.db import Jsonb, step_channel
from tasker.states import STEP_ENQUEUED, STEP_IN_FLIGHT_STATES, TASK_STEPS_IN_PROCESS

_LOCK_TASK = (
    "SELECT t.task_uuid, ns.name, tt.to_state FROM tasks t "
    "JOIN named_tasks nt ON nt.named_task_uuid = t.named_task_uuid "
    "JOIN task_namespaces ns ON ns.task_namespace_uuid = nt.task_namespace_uuid "
    "JOIN task_transitions tt ON tt.task_uuid = t.task_uuid AND tt.most_recent "
    "WHERE t.task_uuid = %s FOR UPDATE OF t"
)
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


def fetch_readiness(conn: psycopg.Connection, task_uuid: uuid.UUID) -> list[StepReadiness]:
    return [StepReadiness(*row) for row in conn.execute(_READINESS, (task_uuid,)).fetchall()]


def any_in_flight(steps: list[StepReadiness]) -> bool:
    return any(s.state in STEP_IN_FLIGHT_STATES for s in steps)


def enqueue_steps(
    conn: psycopg.Connection, task: TaskRef, steps: list[StepReadiness], processor_uuid: uuid.UUID
) -> list[str]:
    """Publish the ready ones among `steps`; returns their names. Pipelined: one round trip."""
    ready = [s for s in steps if s.ready]
    if not ready:
        return []
    with conn.pipeline():
        for step in ready:
            conn.execute("SELECT tasker_transition_step(%s, %s)", (step.step_uuid, STEP_ENQUEUED))
            conn.execute(
                "INSERT INTO step_queue_messages (namespace, message) VALUES (%s, %s)",
                (
                    task.namespace,
                    Jsonb({"task_uuid": str(task.task_uuid), "step_uuid": str(step.step_uuid), "step_name": step.name}),
                ),
            )
        conn.execute("SELECT pg_notify(%s, %s)", (step_channel(task.namespace), str(task.task_uuid)))
        if task.state != TASK_STEPS_IN_PROCESS:
            conn.execute(
                "SELECT tasker_transition_task(%s, %s, %s)", (task.task_uuid, TASK_STEPS_IN_PROCESS, processor_uuid)
            )
    return [s.name for s in ready]


def enqueue_ready_steps(conn: psycopg.Connection, task: TaskRef, processor_uuid: uuid.UUID) -> list[str]:
    """Readiness query plus publishing, for a task locked in the caller's transaction."""
    return enqueue_steps(conn, task, fetch_readiness(conn, task.task_uuid), processor_uuid)
