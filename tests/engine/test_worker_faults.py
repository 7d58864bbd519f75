"""The worker's fault handling, driven in this process on one connection (tests/reliability runs the same faults
against real processes): whatever a result or an input brings becomes the step's error result, never an exception
out of the claim loop; the claim keeper extends only claims held for a third of the visibility timeout."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tasker.orchestration.lifecycle import result_processor, step_enqueuer
from tasker.worker import ClaimKeeper, Worker, describe

pytestmark = pytest.mark.integration

PROCESSOR = uuid.uuid4()


def started_step(conn: psycopg.Connection, create_task: Callable[..., Any], dsn: str, **context: Any) -> Any:
    task = create_task(dsn, "linear_workflow", "mathematical_sequence", {"even_number": 6, **context})
    step_enqueuer.start_task(conn, task.task_uuid, PROCESSOR)
    return task


def step_row(conn: psycopg.Connection, task_uuid: uuid.UUID) -> tuple[str, int, Any]:
    row = conn.execute(
        "SELECT st.to_state, ws.attempts, ws.results FROM workflow_steps ws "
        "JOIN workflow_step_transitions st ON st.workflow_step_uuid = ws.workflow_step_uuid AND st.most_recent "
        "JOIN named_steps n ON n.named_step_uuid = ws.named_step_uuid "
        "WHERE ws.task_uuid = %s AND n.name = 'linear_step_1'",
        (task_uuid,),
    ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


@pytest.mark.parametrize(
    ("result", "why"),
    [
        (float("nan"), "invalid input syntax for type json"),  # NaN is no JSON number: PostgreSQL refuses it
        (10**140_000, "more than 131072 digits, more than a jsonb number holds"),
        ({1, 2}, "TypeError: Object of type set is not JSON serializable"),
        ("nul\x00", "unsupported Unicode escape sequence"),
    ],
    ids=["nan", "too-many-digits", "not-json", "nul"],
)
def test_a_result_that_cannot_be_submitted_becomes_the_steps_error_result(
    conn: psycopg.Connection, clean_dsn: str, create_task: Callable[..., Any], result: Any, why: str
) -> None:
    task = started_step(conn, create_task, clean_dsn)
    worker = Worker(clean_dsn)
    step = worker.claim(conn)
    assert step is not None
    outcome = {**worker.execute(step), "result": result}
    assert worker.deliver(conn, step, outcome) is True
    assert step_row(conn, task.task_uuid)[0] == "enqueued_as_error_for_orchestration"
    processed = result_processor.process_next_result(conn, PROCESSOR)
    assert processed is not None and processed.outcome == "waiting_for_retry"  # retried, as the template says
    state, attempts, results = step_row(conn, task.task_uuid)
    assert (state, attempts) == ("waiting_for_retry", 1)
    assert results["error"].startswith("the step's result could not be submitted: ") and why in results["error"]


def test_a_step_whose_attempts_never_returned_fails_at_its_next_claim(
    conn: psycopg.Connection, clean_dsn: str, create_task: Callable[..., Any]
) -> None:
    started_step(conn, create_task, clean_dsn)
    worker = Worker(clean_dsn, visibility_timeout=0)  # each message visible again at once, as if its worker died
    for attempt in (1, 2, 3):
        step = worker.claim(conn)
        assert step is not None and step.attempt == attempt and step.failure is None
    step = worker.claim(conn)
    assert step is not None and step.attempt == 4
    assert step.failure is not None and "attempt 4 of a step allowed 3" in step.failure
    assert worker.execute(step)["error"] == step.failure  # the handler does not run
    worker.deliver(conn, step, worker.execute(step))
    processed = result_processor.process_next_result(conn, PROCESSOR)
    assert processed is not None and processed.outcome == "error"
    assert processed.finalization is not None and processed.finalization.state == "blocked_by_failures"


def test_an_older_claims_result_is_dropped(
    conn: psycopg.Connection, clean_dsn: str, create_task: Callable[..., Any]
) -> None:
    task = started_step(conn, create_task, clean_dsn)
    worker = Worker(clean_dsn, visibility_timeout=0)
    first = worker.claim(conn)
    second = worker.claim(conn)  # the first claim's timeout passed: taken over
    assert first is not None and second is not None and (first.attempt, second.attempt) == (1, 2)
    assert worker.submit(conn, first, worker.execute(first)) is False
    assert step_row(conn, task.task_uuid)[:2] == ("in_progress", 2)
    assert worker.submit(conn, second, worker.execute(second)) is True
    assert step_row(conn, task.task_uuid)[:2] == ("enqueued_for_orchestration", 2)


def test_the_keeper_extends_only_claims_held_for_a_third_of_the_timeout(
    conn: psycopg.Connection, clean_dsn: str, create_task: Callable[..., Any]
) -> None:
    started_step(conn, create_task, clean_dsn)
    worker = Worker(clean_dsn, visibility_timeout=30)
    step = worker.claim(conn)
    assert step is not None
    keeper = ClaimKeeper([worker], visibility_timeout=30)

    def vt() -> Any:
        return conn.execute("SELECT vt FROM step_queue_messages WHERE msg_id = %s", (step.msg_id,)).fetchone()

    claimed_vt = vt()
    worker.held = (step.msg_id, time.monotonic() - 5)  # running for 5 s: under a third of 30 s
    keeper.chores(conn)
    assert vt() == claimed_vt and keeper.extensions == 0
    worker.held = (step.msg_id, time.monotonic() - 11)
    keeper.chores(conn)
    assert vt() > claimed_vt and keeper.extensions == 1
    keeper.chores(conn)  # extended just now: not again before another third
    assert keeper.extensions == 1
    worker.held = None
    keeper.chores(conn)
    assert keeper.extended == {} and keeper.extensions == 1


def test_error_texts_are_short_and_storable() -> None:
    text = describe(ValueError("x" * 10_000 + "\x00\ud800"))
    assert len(text) < 2100 and text.endswith("... (10014 characters)")
    assert describe(ValueError("a\x00b\ud800")) == "ValueError: a\\x00b\\ud800"
