"""Issue 19, steps longer than the visibility timeout (real processes, `tasker worker --visibility-timeout 2`).

Reported: a step longer than the 30 s visibility timeout ran twice while its first worker was alive, and the
duplicate result re-transitioned the completed step. Now a worker extends its claim while the step runs, and a
result whose claim was taken over is dropped: a late duplicate never changes a finished step.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LINEAR = ("linear_workflow", "mathematical_sequence")
EXPECTED = {"linear_step_1": 36, "linear_step_2": 1296, "linear_step_3": 1679616, "linear_step_4": 2821109907456}
Transitions = Callable[[str, str, str], list[tuple[str, dict[str, Any]]]]


def test_a_step_three_times_the_visibility_timeout_runs_once(
    engine_dsn: str, engine_stack: Any, client: Callable[[Any], Any], transitions: Transitions
) -> None:
    with engine_stack(engine_dsn, workers=2, visibility_timeout=2) as stack:
        api = client(stack)
        task = api.create(LINEAR, {"even_number": 6, "_sleep_ms": {"linear_step_2": 6000}})
        body = api.wait(task, timeout=40)
        assert body["status"] == "complete"
        assert {s["name"]: (s["attempts"], s["results"]) for s in body["steps"]} == {
            name: (1, value) for name, value in EXPECTED.items()
        }
        states = [state for state, _ in transitions(engine_dsn, task, "linear_step_2")]
        assert states == ["pending", "enqueued", "in_progress", "enqueued_for_orchestration", "complete"]
        assert all(stack.alive(name) for name in stack.processes)


def test_a_late_result_never_changes_a_finished_step(
    engine_dsn: str, engine_stack: Any, client: Callable[[Any], Any], transitions: Transitions, tmp_path: Path
) -> None:
    """A worker hung mid-step (SIGSTOP: it cannot extend its claim) loses the step to another worker after the
    visibility timeout; resumed after that one finished the task, its result is dropped, not applied."""
    with engine_stack(engine_dsn, workers=1, visibility_timeout=2, log_dir=tmp_path) as stack:
        api = client(stack)
        task = api.create(LINEAR, {"even_number": 6, "_sleep_ms": {"linear_step_2": 4000}})
        api.wait(task, 20, lambda t: _step(t, "linear_step_2") == ("in_progress", 1))
        stack.signal("worker-1", signal.SIGSTOP)
        try:
            stack.start_worker("worker-2")
            body = api.wait(task, timeout=40)
            assert body["status"] == "complete"
            before = transitions(engine_dsn, task, "linear_step_2")
        finally:
            stack.signal("worker-1", signal.SIGCONT)
        # worker-1's sleep is long over: it submits its attempt-1 result at once, and is told it was dropped.
        log = tmp_path / "worker-1.log"
        deadline = time.monotonic() + 20
        while "result dropped" not in log.read_text():
            assert time.monotonic() < deadline, f"worker-1 never submitted its late result:\n{log.read_text()}"
            time.sleep(0.1)
        assert transitions(engine_dsn, task, "linear_step_2") == before
        assert [state for state, _ in before] == [
            "pending",
            "enqueued",
            "in_progress",
            "in_progress",  # the redelivered claim, attempt 2
            "enqueued_for_orchestration",
            "complete",
        ]
        assert [meta.get("attempt") for state, meta in before if state == "in_progress"] == [1, 2]
        body = api.task(task)
        assert body["status"] == "complete"
        assert {s["name"]: s["results"] for s in body["steps"]} == EXPECTED
        assert stack.alive("worker-1") and stack.alive("worker-2")


def _step(task: dict[str, Any], name: str) -> tuple[str, int]:
    step = next(s for s in task["steps"] if s["name"] == name)
    return step["current_state"], step["attempts"]
