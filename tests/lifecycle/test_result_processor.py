"""result_processor: step results from the real worker code, processed into complete / retry / error."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from tasker.migrate import register_template
from tasker.orchestration.lifecycle import result_processor
from tasker.orchestration.orchestrator import Orchestrator
from tasker.states import STEP_STATES, TASK_STATES
from tasker.templates import parse_template
from tasker.worker import Worker

pytestmark = pytest.mark.integration

FINAL = {"linear": 6**16, "diamond": 6**8, "complex_dag": 6**24, "tree": 6**32}
LAST_STEP = {"linear": "linear_step_4", "diamond": "diamond_end", "complex_dag": "finalize", "tree": "join"}

NewTask = Callable[..., uuid.UUID]
StepStates = Callable[[uuid.UUID], dict[str, tuple[str, int, Any]]]
TaskState = Callable[[uuid.UUID], str]


def test_workflows_run_to_exact_results(
    conn: psycopg.Connection,
    new_task: NewTask,
    orchestrator: Orchestrator,
    run_until_idle: Callable[[], int],
    step_states: StepStates,
    task_state: TaskState,
    repeat: Callable[[int], int],
) -> None:
    for _ in range(repeat(15)):
        for key, final in FINAL.items():
            task_uuid = new_task(key)
            orchestrator.start_task(conn, task_uuid)
            run_until_idle()
            assert task_state(task_uuid) == "complete"
            states = step_states(task_uuid)
            assert states[LAST_STEP[key]] == ("complete", 1, final)
            assert all(state == "complete" for state, _, _ in states.values())


def age_last_attempt(conn: psycopg.Connection, seconds: int = 3600) -> None:
    conn.execute("UPDATE workflow_steps SET last_attempted_at = last_attempted_at - %s", (timedelta(seconds=seconds),))


def test_error_is_retried_after_its_backoff(
    conn: psycopg.Connection,
    new_task: NewTask,
    orchestrator: Orchestrator,
    run_until_idle: Callable[[], int],
    step_states: StepStates,
    task_state: TaskState,
) -> None:
    task_uuid = new_task("linear", _fail_attempts={"linear_step_2": 1})
    orchestrator.start_task(conn, task_uuid)
    run_until_idle()
    state, attempts, results = step_states(task_uuid)["linear_step_2"]
    assert (state, attempts) == ("waiting_for_retry", 1)
    assert "injected failure" in results["error"]
    assert task_state(task_uuid) == "waiting_for_retry"
    backoff = conn.execute("SELECT backoff_request_seconds FROM workflow_steps WHERE attempts = 1 AND NOT processed")
    assert backoff.fetchone() == (1,)  # the template's backoff_seconds

    assert orchestrator.poll(conn) == 0  # backoff not elapsed: nothing to pick up
    age_last_attempt(conn)
    assert orchestrator.poll(conn) == 1
    run_until_idle()
    assert task_state(task_uuid) == "complete"
    assert step_states(task_uuid)["linear_step_2"] == ("complete", 2, 1296)


def test_exhausted_retries_block_the_task(
    conn: psycopg.Connection,
    new_task: NewTask,
    orchestrator: Orchestrator,
    run_until_idle: Callable[[], int],
    step_states: StepStates,
    task_state: TaskState,
    listen: Callable[[str], psycopg.Connection],
) -> None:
    listener = listen("tasker_task_completed")
    task_uuid = new_task("diamond", _fail_attempts={"diamond_branch_b": 99})
    orchestrator.start_task(conn, task_uuid)
    for _ in range(3):
        run_until_idle()
        age_last_attempt(conn)
        orchestrator.poll(conn)
    states = step_states(task_uuid)
    assert states["diamond_branch_b"][:2] == ("error", 3)
    assert states["diamond_branch_c"][0] == "complete" and states["diamond_end"][0] == "pending"
    assert task_state(task_uuid) == "blocked_by_failures"
    assert [n.payload for n in listener.notifies(timeout=2, stop_after=1)] == [str(task_uuid)]
    # every state the hand-offs wrote on the way is one of the model's
    task_states = {r[0] for r in conn.execute("SELECT DISTINCT to_state FROM task_transitions")}
    step_states_seen = {r[0] for r in conn.execute("SELECT DISTINCT to_state FROM workflow_step_transitions")}
    assert task_states <= TASK_STATES and step_states_seen <= STEP_STATES
    assert {"waiting_for_retry", "error", "enqueued_as_error_for_orchestration"} <= step_states_seen


def test_zero_backoff_retry_is_re_enqueued_at_once(
    conn: psycopg.Connection,
    clean_dsn: str,
    create_task: Callable[..., Any],
    orchestrator: Orchestrator,
    run_until_idle: Callable[[], int],
    step_states: StepStates,
    task_state: TaskState,
) -> None:
    template = parse_template(
        {
            "namespace": "linear_workflow",
            "name": "impatient",
            "version": "1.0.0",
            "retry": {"max_attempts": 4, "backoff_seconds": 0},
            "steps": [{"name": "impatient_a"}, {"name": "impatient_b", "depends_on": ["impatient_a"]}],
        }
    )
    register_template(conn, template)
    context = {"even_number": 3, "_fail_attempts": {"impatient_b": 2}}
    task = create_task(clean_dsn, "linear_workflow", "impatient", context)
    orchestrator.start_task(conn, task.task_uuid)
    run_until_idle()
    assert task_state(task.task_uuid) == "complete"
    assert step_states(task.task_uuid)["impatient_b"] == ("complete", 3, 81)


def test_duplicate_result_is_ignored(
    conn: psycopg.Connection,
    new_task: NewTask,
    orchestrator: Orchestrator,
    worker: Worker,
    step_states: StepStates,
) -> None:
    task_uuid = new_task("linear")
    orchestrator.start_task(conn, task_uuid)
    step = worker.claim(conn)
    assert step is not None
    result = worker.execute(step)
    assert worker.submit(conn, step, result)
    # A late duplicate from a presumed-dead worker: the claim no longer holds the step, the result is dropped.
    assert not worker.submit(conn, step, {**result, "result": -1})
    first = result_processor.process_next_result(conn, orchestrator.processor_uuid)
    assert first is not None and first.outcome == "complete" and first.enqueued == ["linear_step_2"]
    assert not worker.submit(conn, step, {**result, "result": -2})  # nor does it change the finished step
    assert step_states(task_uuid)["linear_step_1"] == ("complete", 1, 36)
    assert result_processor.process_next_result(conn, orchestrator.processor_uuid) is None
