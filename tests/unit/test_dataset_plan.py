"""The dataset plan is a pure function of (scale, seed) with a realistic, internally consistent state mix."""

from __future__ import annotations

from collections import defaultdict

import pytest

from baseline.targets.tasker.dataset import STATE_MIX, plan_dataset
from baseline.targets.tasker.workload import WORKFLOWS


@pytest.fixture(scope="module")
def plan():
    return plan_dataset(2000, 7)


def test_same_seed_same_rows(plan) -> None:
    again = plan_dataset(2000, 7)
    assert again.tasks == plan.tasks
    assert again.steps == plan.steps
    assert again.edges == plan.edges
    assert again.step_transitions == plan.step_transitions


def test_other_seed_other_rows(plan) -> None:
    other = plan_dataset(2000, 8)
    assert other.tasks[0][0] != plan.tasks[0][0]
    assert {t[0] for t in other.tasks}.isdisjoint({t[0] for t in plan.tasks})


def test_scale_and_steps_per_task(plan) -> None:
    assert len(plan.tasks) == 2000
    assert 3.9 <= len(plan.steps) / len(plan.tasks) <= 4.6
    assert plan.workflows["linear"] + plan.workflows["diamond"] > 0.8 * 2000
    assert set(plan.workflows) == set(WORKFLOWS)


def test_every_state_is_present_in_roughly_its_share(plan) -> None:
    for state, share in STATE_MIX.items():
        assert abs(plan.task_states[state] / 2000 - share) < 0.04, state
    for state in ("complete", "pending", "enqueued", "in_progress", "waiting_for_retry", "error"):
        assert plan.step_states[state] > 0, state


def test_one_most_recent_transition_per_task_and_step(plan) -> None:
    recent = defaultdict(int)
    for row in plan.task_transitions:
        recent[row[1]] += row[5]
    assert len(recent) == 2000 and set(recent.values()) == {1}
    step_recent = defaultdict(int)
    for row in plan.step_transitions:
        step_recent[row[1]] += row[5]
    assert len(step_recent) == len(plan.steps) and set(step_recent.values()) == {1}


def test_complete_tasks_have_exact_results_and_retries_have_backoff_history(plan) -> None:
    state_of_task = {row[1]: row[3] for row in plan.task_transitions if row[5]}
    steps_by_task = defaultdict(list)
    for row in plan.steps:
        steps_by_task[row[1]].append(row)
    complete_task = next(t for t in plan.tasks if state_of_task[t[0]] == "complete")
    assert complete_task[2] is True
    even = int(complete_task[8].split(":")[1].rstrip("}"))
    expected = WORKFLOWS[complete_task[1]].expected_results(even)
    got = {row[2]: row[12] for row in steps_by_task[complete_task[0]]}
    assert got == {name: str(value) for name, value in expected.items()}
    step_state = {row[1]: row[3] for row in plan.step_transitions if row[5]}
    retrying = [row for row in plan.steps if step_state[row[0]] == "waiting_for_retry"]
    assert all(row[5] >= 1 for row in retrying)  # attempts
    assert any(row[5] >= row[4] for row in retrying)  # some exhausted their attempts
    assert any(row[7] is not None for row in retrying)  # some asked for a backoff


def test_complete_steps_only_follow_complete_parents(plan) -> None:
    step_state = {row[1]: row[3] for row in plan.step_transitions if row[5]}
    for parent, child, *_ in plan.edges:
        if step_state[child] in ("complete", "enqueued", "in_progress", "waiting_for_retry", "error"):
            assert step_state[parent] == "complete"


def test_bad_scale_is_rejected() -> None:
    with pytest.raises(ValueError, match="positive number of tasks"):
        plan_dataset(0, 1)


# ------------------------------------------------------------------ workload knowledge used by plan and benches


def test_expected_results_match_the_reference() -> None:
    assert WORKFLOWS["linear"].expected_results()["linear_step_4"] == 6**16
    assert WORKFLOWS["diamond"].expected_results()["diamond_end"] == 6**8
    assert WORKFLOWS["complex_dag"].expected_results()["finalize"] == 6**24
    assert WORKFLOWS["hierarchical_tree"].expected_results()["join"] == 6**32
    assert WORKFLOWS["hierarchical_tree"].depth("join") == 3


def _finished(key: str, **override) -> dict:
    results = WORKFLOWS[key].expected_results()
    steps = [{"name": n, "current_state": "complete", "results": v} for n, v in results.items()]
    return {"task_uuid": "t-1", "status": "complete", "steps": steps, **override}


def test_verify_task_accepts_exact_results_and_names_what_differs() -> None:
    from baseline.targets.tasker.workload import TaskVerificationError, task_request, verify_task

    verify_task(_finished("diamond"), "diamond")
    body = task_request("linear", "corr-1")
    assert body["namespace"] == "linear_workflow" and body["version"] == "1.0.0"
    assert body["context"] == {"even_number": 6} and body["correlation_id"] == "corr-1"
    wrong = _finished("diamond")
    wrong["steps"][3]["results"] = 1679615
    with pytest.raises(
        TaskVerificationError, match=r"task t-1 \(diamond\): step diamond_end result 1679615, expected 1679616"
    ):
        verify_task(wrong, "diamond")
    with pytest.raises(TaskVerificationError, match="status 'error', expected 'complete'"):
        verify_task(_finished("linear", status="error"), "linear")
    with pytest.raises(ValueError, match="unknown workflow 'nope'"):
        task_request("nope", "c")
