"""result_processor: consume one step result from the orchestration queue and act on it in one transaction.

Success -> step complete with its results; error -> waiting_for_retry (with the template's backoff) while
attempts remain, else error. Then, in the same transaction, the next ready steps are enqueued, or, when
nothing is left in flight, the task is finalized. One statement and one commit per result: the work runs in the
server-side function tasker_process_next_result (sql/0003_handoffs.sql); `decide_outcome` is its rule in Python.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import psycopg

from tasker.orchestration.lifecycle import task_finalizer
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

# Pop, lock, apply, enqueue or finalize: one server-side call (sql/0003_handoffs.sql), one round trip and commit.
_PROCESS = (
    "SELECT task_uuid, step_uuid, outcome, enqueued, execution_status, new_state "
    "FROM tasker_process_next_result(%s, %s)"
)
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
    """Process the oldest pending result in one statement (its own transaction); None when the queue is empty.

    Server side, tasker_process_next_result applies decide_outcome's rule, then enqueues the steps that became
    ready or, with nothing in flight, finalizes the task (task_finalizer's rule, synchronous commit if terminal).
    """
    row = conn.execute(_PROCESS, (processor_uuid, RESULT_KIND)).fetchone()
    if row is None:
        return None
    task_uuid, step_uuid, outcome, enqueued, execution_status, new_state = row
    finalization = None
    if execution_status is not None:
        finalization = task_finalizer.Finalization(task_uuid, execution_status, new_state)
    return ProcessedResult(task_uuid, step_uuid, outcome, list(enqueued or ()), finalization)
