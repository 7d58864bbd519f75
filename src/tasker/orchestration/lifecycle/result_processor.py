"""result_processor: consume one step result from the orchestration queue and act on it in one transaction.

Success -> step complete with its results; error -> waiting_for_retry (with the template's backoff) while
attempts remain, else error. Then, in the same transaction, the next ready steps are enqueued, or, when
nothing is left in flight, the task is finalized. One statement and one commit per result: the work runs in the
server-side function tasker_process_next_result (sql/functions/tasker_process_next_result.sql).
`decide_outcome` states its outcome rule in Python: a specification, not called in production;
tests/engine/test_rules.py runs one table of cases against it and the SQL function.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import psycopg

from tasker.orchestration.lifecycle import task_finalizer
from tasker.states import STEP_COMPLETE, STEP_ERROR, STEP_IN_FLIGHT_STATES, STEP_WAITING_FOR_RETRY

RESULT_KIND = "step_result"

_PROCESS = (
    "SELECT task_uuid, step_uuid, outcome, enqueued, execution_status, new_state "
    "FROM tasker_process_next_result(%s, %s)"
)


@dataclass(frozen=True)
class ProcessedResult:
    task_uuid: uuid.UUID
    step_uuid: uuid.UUID
    outcome: str | None  # complete, waiting_for_retry, error; None when the result was ignored
    enqueued: list[str] = field(default_factory=list)
    finalization: task_finalizer.Finalization | None = None


def decide_outcome(success: bool, step_state: str, attempts: int, max_attempts: int, retryable: bool) -> str | None:
    """The step's next state for a result, or None to ignore a result nobody waits for (the step is not in
    flight, e.g. a duplicate after a redelivery)."""
    if step_state not in STEP_IN_FLIGHT_STATES:
        return None
    if success:
        return STEP_COMPLETE
    if retryable and attempts < max_attempts:
        return STEP_WAITING_FOR_RETRY
    return STEP_ERROR


def process_next_result(conn: psycopg.Connection, processor_uuid: uuid.UUID) -> ProcessedResult | None:
    """Process the oldest visible result in one statement (its own transaction); None when the queue is empty.

    Server side, tasker_process_next_result records the outcome, then enqueues the steps that became ready or, with
    nothing in flight, finalizes the task (synchronous commit if it reaches a terminal state)."""
    row = conn.execute(_PROCESS, (processor_uuid, RESULT_KIND)).fetchone()
    if row is None:
        return None
    task_uuid, step_uuid, outcome, enqueued, execution_status, new_state = row
    finalization = task_finalizer.settled(task_uuid, execution_status, new_state)
    return ProcessedResult(task_uuid, step_uuid, outcome, list(enqueued or ()), finalization)
