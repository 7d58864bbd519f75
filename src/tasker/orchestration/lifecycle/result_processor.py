"""result_processor: consume one step result from the orchestration queue and act on it in one transaction.

Success -> step complete with its results; error -> waiting_for_retry (with the template's backoff) while
attempts remain, else error. Then, in the same transaction, the next ready steps are enqueued, or, when
nothing is left in flight, the task is finalized. One commit per result.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg

from tasker.db import Jsonb
from tasker.orchestration.lifecycle import step_enqueuer, task_finalizer
from tasker.states import (
    STEP_COMPLETE,
    STEP_ENQUEUED,
    STEP_ENQUEUED_AS_ERROR,
    STEP_ENQUEUED_FOR_ORCHESTRATION,
    STEP_ERROR,
    STEP_IN_PROGRESS,
    STEP_WAITING_FOR_RETRY,
)

RESULT_KIND = "step_result"

# Pop the oldest visible result, lock its task row and read the step, in one statement.
_POP = """
WITH m AS (
    DELETE FROM orchestration_queue_messages
    WHERE msg_id = (
        SELECT msg_id FROM orchestration_queue_messages
        WHERE kind = %s AND vt <= clock_timestamp()
        ORDER BY msg_id LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING message
)
SELECT m.message, t.task_uuid, ns.name, tt.to_state,
       ws.workflow_step_uuid, st.to_state, ws.attempts, ws.max_attempts, ws.retryable, ws.inputs
FROM m
JOIN tasks t ON t.task_uuid = (m.message->>'task_uuid')::uuid
JOIN named_tasks nt ON nt.named_task_uuid = t.named_task_uuid
JOIN task_namespaces ns ON ns.task_namespace_uuid = nt.task_namespace_uuid
JOIN task_transitions tt ON tt.task_uuid = t.task_uuid AND tt.most_recent
JOIN workflow_steps ws ON ws.workflow_step_uuid = (m.message->>'step_uuid')::uuid
JOIN workflow_step_transitions st ON st.workflow_step_uuid = ws.workflow_step_uuid AND st.most_recent
FOR UPDATE OF t
"""
# Record the outcome on the step and move it, in one statement.
_APPLY = """
WITH updated AS (
    UPDATE workflow_steps
    SET results = %(results)s, processed = %(success)s, processed_at = CASE WHEN %(success)s THEN now() END,
        in_process = false, backoff_request_seconds = %(backoff)s, updated_at = now()
    WHERE workflow_step_uuid = %(step)s
    RETURNING workflow_step_uuid
)
SELECT tasker_transition_step(u.workflow_step_uuid, %(outcome)s, %(metadata)s) FROM updated u
"""
# States in which a result is expected; anything else (e.g. a duplicate after a redelivery) is ignored.
_AWAITING_RESULT = frozenset({STEP_ENQUEUED, STEP_IN_PROGRESS, STEP_ENQUEUED_FOR_ORCHESTRATION, STEP_ENQUEUED_AS_ERROR})


@dataclass(frozen=True)
class ProcessedResult:
    task_uuid: uuid.UUID
    step_uuid: uuid.UUID
    outcome: str | None  # complete, waiting_for_retry, error; None when the result was ignored
    enqueued: list[str] = field(default_factory=list)
    finalization: task_finalizer.Finalization | None = None


def decide_outcome(success: bool, step_state: str, attempts: int, max_attempts: int, retryable: bool) -> str | None:
    """Pure: the step's next state for a result, or None to ignore a result nobody waits for."""
    if step_state not in _AWAITING_RESULT:
        return None
    if success:
        return STEP_COMPLETE
    if retryable and attempts < max_attempts:
        return STEP_WAITING_FOR_RETRY
    return STEP_ERROR


def process_next_result(conn: psycopg.Connection, processor_uuid: uuid.UUID) -> ProcessedResult | None:
    """Process the oldest pending result; None when the queue is empty. Runs in its own transaction."""
    with conn.transaction():
        row = conn.execute(_POP, (RESULT_KIND,)).fetchone()
        if row is None:
            return None
        (
            message,
            task_uuid,
            namespace,
            task_state,
            step_uuid,
            step_state,
            attempts,
            max_attempts,
            retryable,
            inputs,
        ) = row
        return apply_result(
            conn,
            step_enqueuer.TaskRef(task_uuid, namespace, task_state),
            step_uuid,
            step_state,
            attempts,
            max_attempts,
            retryable,
            (inputs or {}).get("backoff_seconds"),
            message,
            processor_uuid,
        )


def apply_result(
    conn: psycopg.Connection,
    task: step_enqueuer.TaskRef,
    step_uuid: uuid.UUID,
    step_state: str,
    attempts: int,
    max_attempts: int,
    retryable: bool,
    backoff_seconds: int | None,
    message: dict[str, Any],
    processor_uuid: uuid.UUID,
) -> ProcessedResult:
    success = message.get("status") == "success"
    outcome = decide_outcome(success, step_state, attempts, max_attempts, retryable)
    if outcome is None:
        return ProcessedResult(task.task_uuid, step_uuid, None)
    results = message.get("result") if success else {"error": message.get("error"), "attempt": attempts}
    conn.execute(
        _APPLY,
        {
            "results": Jsonb(results),
            "success": success,
            "backoff": backoff_seconds if outcome == STEP_WAITING_FOR_RETRY else None,
            "step": step_uuid,
            "outcome": outcome,
            "metadata": Jsonb({"attempts": attempts, "processor_uuid": str(processor_uuid)}),
        },
    )
    readiness = step_enqueuer.fetch_readiness(conn, task.task_uuid)
    enqueued = step_enqueuer.enqueue_steps(conn, task, readiness, processor_uuid)
    finalization = None
    if not enqueued and not step_enqueuer.any_in_flight(readiness):
        finalization = task_finalizer.finalize_task(
            conn, task.task_uuid, task.state, [s.state for s in readiness], processor_uuid
        )
    return ProcessedResult(task.task_uuid, step_uuid, outcome, enqueued, finalization)
