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

# The rule of next_task_state plus the transition, server side (sql/0003_handoffs.sql): one round trip.
_FINALIZE = "SELECT execution_status, new_state FROM tasker_finalize_task(%s, %s, %s, %s)"


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
    """Settle a task locked in the caller's transaction whose steps are not in flight (one statement).

    tasker_finalize_task applies next_task_state's rule to get_task_execution_context and, on a terminal state,
    flags the task, NOTIFYs the completion channel and makes this transaction's commit synchronous.
    """
    retry_waiting = STEP_WAITING_FOR_RETRY in step_states
    try:
        row = conn.execute(_FINALIZE, (task_uuid, current_state, retry_waiting, processor_uuid)).fetchone()
    except psycopg.errors.NoDataFound:
        raise LookupError(f"task {task_uuid} does not exist") from None
    assert row is not None
    return Finalization(task_uuid, row[0], row[1])


def fail_task(conn: psycopg.Connection, task_uuid: uuid.UUID, processor_uuid: uuid.UUID, reason: str) -> None:
    """Move a task the orchestrator cannot process to error (terminal, NOTIFY sent)."""
    transition(conn, task_uuid, TASK_ERROR, processor_uuid, {"reason": reason[:2000]})
