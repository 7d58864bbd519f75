"""task_finalizer: settle a task with nothing in flight, from get_task_execution_context.

complete when every step is done; blocked_by_failures when a step failed for good; waiting_for_retry or
waiting_for_dependencies otherwise (the orchestrator's poll picks the task up again). Every terminal state
sends NOTIFY tasker_task_completed with the task uuid, in the same transaction as the transition.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import psycopg

from tasker.db import COMPLETION_CHANNEL, Jsonb
from tasker.states import (
    STEP_WAITING_FOR_RETRY,
    TASK_BLOCKED_BY_FAILURES,
    TASK_COMPLETE,
    TASK_ERROR,
    TASK_TERMINAL_STATES,
    TASK_WAITING_FOR_DEPENDENCIES,
    TASK_WAITING_FOR_RETRY,
)

_CONTEXT = "SELECT execution_status, total_steps, completed_steps, failed_steps FROM get_task_execution_context(%s)"


@dataclass(frozen=True)
class Finalization:
    task_uuid: uuid.UUID
    execution_status: str
    state: str | None  # the state the task moved to, None when it stays as it is


def next_task_state(execution_status: str, current_state: str, retry_waiting: bool) -> str | None:
    """Pure decision: where a task with nothing in flight goes; None to leave it (e.g. steps are ready)."""
    if current_state in TASK_TERMINAL_STATES:
        return None
    if execution_status == "all_complete":
        return TASK_COMPLETE
    if execution_status == "blocked_by_failures":
        return TASK_BLOCKED_BY_FAILURES
    if execution_status in ("has_ready_steps", "processing"):
        return None
    target = TASK_WAITING_FOR_RETRY if retry_waiting else TASK_WAITING_FOR_DEPENDENCIES
    return None if target == current_state else target


def transition(
    conn: psycopg.Connection, task_uuid: uuid.UUID, state: str, processor_uuid: uuid.UUID, metadata: dict
) -> None:
    """Move the task; on a terminal state also flag it and NOTIFY the completion channel (same transaction).

    A terminal state is what clients wait for, so its commit is synchronous even on a connection whose internal
    hand-offs are not; flushing it also flushes every earlier hand-off of the task.
    """
    if state in TASK_TERMINAL_STATES:
        conn.execute("SET LOCAL synchronous_commit = on")
    conn.execute("SELECT tasker_transition_task(%s, %s, %s, %s)", (task_uuid, state, processor_uuid, Jsonb(metadata)))
    if state in TASK_TERMINAL_STATES:
        conn.execute(
            "UPDATE tasks SET complete = %s, updated_at = now() WHERE task_uuid = %s",
            (state == TASK_COMPLETE, task_uuid),
        )
        conn.execute("SELECT pg_notify(%s, %s)", (COMPLETION_CHANNEL, str(task_uuid)))


def finalize_task(
    conn: psycopg.Connection,
    task_uuid: uuid.UUID,
    current_state: str,
    step_states: list[str],
    processor_uuid: uuid.UUID,
) -> Finalization:
    """Settle a task locked in the caller's transaction whose steps are not in flight."""
    row = conn.execute(_CONTEXT, (task_uuid,)).fetchone()
    if row is None:
        raise LookupError(f"task {task_uuid} does not exist")
    execution_status = row[0]
    state = next_task_state(execution_status, current_state, STEP_WAITING_FOR_RETRY in step_states)
    if state is not None:
        metadata = {"execution_status": execution_status, "completed_steps": row[2], "failed_steps": row[3]}
        transition(conn, task_uuid, state, processor_uuid, metadata)
    return Finalization(task_uuid, execution_status, state)


def fail_task(conn: psycopg.Connection, task_uuid: uuid.UUID, processor_uuid: uuid.UUID, reason: str) -> None:
    """Move a task the orchestrator cannot process to error (terminal, NOTIFY sent)."""
    transition(conn, task_uuid, TASK_ERROR, processor_uuid, {"reason": reason[:2000]})
