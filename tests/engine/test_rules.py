"""The Python statements of the hand-off rules are specifications: each table of cases runs against the Python
function and against the SQL function production runs, and both must give the case's answer."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tasker.db import Jsonb
from tasker.orchestration.lifecycle.result_processor import RESULT_KIND, decide_outcome
from tasker.orchestration.lifecycle.task_finalizer import next_task_state

pytestmark = pytest.mark.integration

PROCESSOR = uuid.uuid4()

# (result succeeded, step state, attempts, max_attempts, retryable) -> the step's next state (None: ignored)
OUTCOME_CASES = [
    (True, "enqueued_for_orchestration", 1, 3, True, "complete"),
    (True, "enqueued", 1, 3, True, "complete"),
    (True, "in_progress", 1, 3, True, "complete"),
    (False, "enqueued_as_error_for_orchestration", 1, 3, True, "waiting_for_retry"),
    (False, "enqueued_as_error_for_orchestration", 2, 3, True, "waiting_for_retry"),
    (False, "enqueued_as_error_for_orchestration", 3, 3, True, "error"),
    (False, "enqueued_as_error_for_orchestration", 1, 3, False, "error"),
    (True, "complete", 1, 3, True, None),
    (False, "error", 3, 3, True, None),
    (True, "pending", 0, 3, True, None),
    (True, "waiting_for_retry", 1, 3, True, None),
]

# (execution status, task state, a step waits for a retry) -> the task's next state (None: it stays)
SETTLE_CASES = [
    ("all_complete", "steps_in_process", False, "complete"),
    ("blocked_by_failures", "steps_in_process", False, "blocked_by_failures"),
    ("waiting_for_dependencies", "steps_in_process", True, "waiting_for_retry"),
    ("waiting_for_dependencies", "steps_in_process", False, "waiting_for_dependencies"),
    ("waiting_for_dependencies", "waiting_for_retry", True, None),
    ("waiting_for_dependencies", "waiting_for_retry", False, "waiting_for_dependencies"),
    ("waiting_for_dependencies", "waiting_for_dependencies", False, None),
    ("has_ready_steps", "pending", False, None),
    ("processing", "steps_in_process", False, None),
    ("all_complete", "complete", False, None),
    ("blocked_by_failures", "blocked_by_failures", False, None),
    ("all_complete", "error", False, None),
]

# Step arrangements of a linear task (step 1 first) that give each execution status.
ARRANGEMENTS: dict[str, list[tuple[str, dict[str, object]]]] = {
    "all_complete": [("complete", {})] * 4,
    "blocked_by_failures": [("error", {"attempts": 3})],
    "has_ready_steps": [],
    "processing": [("in_progress", {"attempts": 1})],
    "waiting_for_dependencies": [("waiting_for_retry", {"attempts": 1, "backoff_request_seconds": 60})],
}


@pytest.fixture
def linear_steps(clean_dsn: str, create_task: Callable[..., Any], conn: psycopg.Connection) -> Callable[[], list[Any]]:
    """linear_steps() -> [task uuid, step 1 uuid, ..., step 4 uuid] of a new linear task."""

    def make() -> list[Any]:
        task = create_task(clean_dsn, "linear_workflow", "mathematical_sequence", {"even_number": 6})
        rows = conn.execute(
            "SELECT ws.workflow_step_uuid FROM workflow_steps ws JOIN named_steps n USING (named_step_uuid) "
            "WHERE ws.task_uuid = %s ORDER BY n.name",
            (task.task_uuid,),
        ).fetchall()
        return [task.task_uuid, *(r[0] for r in rows)]

    return make


def arrange(conn: psycopg.Connection, steps: list[uuid.UUID], arrangement: list[tuple[str, dict[str, object]]]) -> None:
    """Move the first steps to the given states, attempted just now, with the given columns."""
    for step, (state, columns) in zip(steps, arrangement, strict=False):
        conn.execute("SELECT tasker_transition_step(%s, %s)", (step, state))
        conn.execute("UPDATE workflow_steps SET last_attempted_at = now() WHERE workflow_step_uuid = %s", (step,))
        for column, value in columns.items():
            conn.execute(f"UPDATE workflow_steps SET {column} = %s WHERE workflow_step_uuid = %s", (value, step))


@pytest.mark.parametrize(("success", "state", "attempts", "max_attempts", "retryable", "expected"), OUTCOME_CASES)
def test_result_outcome(
    conn: psycopg.Connection,
    linear_steps: Callable[[], list[Any]],
    success: bool,
    state: str,
    attempts: int,
    max_attempts: int,
    retryable: bool,
    expected: str | None,
) -> None:
    assert decide_outcome(success, state, attempts, max_attempts, retryable) == expected
    task, step, *_ = linear_steps()
    arrange(conn, [step], [(state, {"attempts": attempts, "max_attempts": max_attempts, "retryable": retryable})])
    result = {"task_uuid": str(task), "step_uuid": str(step), "attempt": attempts, "status": "error", "error": "x"}
    if success:
        result = {**result, "status": "success", "result": 36}
    conn.execute(
        "INSERT INTO orchestration_queue_messages (kind, message) VALUES (%s, %s)", (RESULT_KIND, Jsonb(result))
    )
    row = conn.execute("SELECT step_uuid, outcome FROM tasker_process_next_result(%s)", (PROCESSOR,)).fetchone()
    assert row == (step, expected)


@pytest.mark.parametrize(("execution_status", "current", "retry_waiting", "expected"), SETTLE_CASES)
def test_settle_rule(
    conn: psycopg.Connection,
    linear_steps: Callable[[], list[Any]],
    execution_status: str,
    current: str,
    retry_waiting: bool,
    expected: str | None,
) -> None:
    assert next_task_state(execution_status, current, retry_waiting) == expected
    task, *steps = linear_steps()
    arrange(conn, steps, ARRANGEMENTS[execution_status])
    if current != "pending":
        conn.execute("SELECT tasker_transition_task(%s, %s)", (task, current))
    row = conn.execute(
        "SELECT execution_status, new_state FROM tasker_finalize_task(%s, %s, %s, %s)",
        (task, current, retry_waiting, PROCESSOR),
    ).fetchone()
    assert row == (execution_status, expected)
    state = conn.execute("SELECT to_state FROM task_transitions WHERE task_uuid = %s AND most_recent", (task,))
    assert state.fetchone() == (expected or current,)
