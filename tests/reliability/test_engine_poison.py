"""Issue 19, the poison task: no input or result can stop a worker (real api, orchestrator and worker processes).

Reported: POST /v1/tasks with an `even_number` of about 2,150 digits returned 201; squaring it passed Python's
4,300-digit int-to-text limit while the worker submitted the result, outside the handler's error handling, so the
worker process exited, and the redelivery killed the next one. Results are JSON numbers of any size a jsonb column
holds (REFERENCE.md); one larger than that is the step's error result, retried as its template says.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LINEAR = ("linear_workflow", "mathematical_sequence")
TREE = ("tree_workflow", "hierarchical_tree")


def test_a_2150_digit_number_completes_exactly_and_no_worker_dies(
    engine_dsn: str, engine_stack: Any, client: Callable[[Any], Any], exact_ints: None
) -> None:
    with engine_stack(engine_dsn, workers=2, visibility_timeout=5) as stack:
        api = client(stack)
        n = int("2" * 2150)
        poison = api.create(LINEAR, {"even_number": n})  # 201, as in the report
        # The join multiplies four leaves of n**8: n**32 has about 137,600 digits, more than jsonb holds (131,072).
        too_large = api.create(TREE, {"even_number": int("2" * 4300)})
        after = api.create(LINEAR, {"even_number": 6})

        body = api.wait(poison)
        assert body["status"] == "complete", body
        results = {name: s["results"] for name, s in api.steps(poison).items()}
        assert results == {f"linear_step_{i}": n ** (2**i) for i in range(1, 5)}  # exact, n**16: 34,390 digits
        assert len(str(results["linear_step_4"])) == 34_390

        assert api.wait(after)["status"] == "complete"

        tree = api.wait(too_large, timeout=90)  # three attempts of the join, with the default backoff between them
        assert tree["status"] == "blocked_by_failures"
        join = api.steps(too_large)["join"]
        assert (join["current_state"], join["attempts"]) == ("error", 3)
        assert "more than 131072 digits, more than a jsonb number holds" in join["results"]["error"]
        assert all(s["current_state"] == "complete" for name, s in api.steps(too_large).items() if name != "join")

        assert all(stack.alive(name) for name in stack.processes), "every engine process is still up"
        assert api.ready() == (200, {"status": "ok"})
        assert api.wait(api.create(LINEAR, {"even_number": 6}))["status"] == "complete"


def test_a_step_that_kills_its_worker_each_time_is_tried_max_attempts_times(
    engine_dsn: str, engine_stack: Any, client: Callable[[Any], Any]
) -> None:
    """A step that takes its worker process down with it (here a SIGKILL mid-step, as a segfault or the OOM killer
    would) is redelivered after the visibility timeout; once its three attempts are used up, its next claim fails
    it without running it, and the task settles instead of killing workers forever."""
    with engine_stack(engine_dsn, workers=0, visibility_timeout=1) as stack:
        api = client(stack)
        task = api.create(LINEAR, {"even_number": 6, "_sleep_ms": {"linear_step_2": 120_000}})
        for attempt in (1, 2, 3):
            name = f"worker-{attempt}"
            stack.start_worker(name)
            api.wait(task, 30, lambda t, a=attempt: _step(t, "linear_step_2") == ("in_progress", a))
            stack.kill(name)
        stack.start_worker("worker-4")
        body = api.wait(task, 30)
        assert body["status"] == "blocked_by_failures"
        step = api.steps(task)["linear_step_2"]
        assert (step["current_state"], step["attempts"]) == ("error", 4)
        assert "attempt 4 of a step allowed 3: its earlier attempts never returned a result" in step["results"]["error"]
        assert stack.alive("worker-4")


def test_test_hooks_are_off_outside_the_test_mode(
    engine_dsn: str, engine_stack: Any, client: Callable[[Any], Any]
) -> None:
    """Without TASKER_TEST_HOOKS=1 a client's `_fail_attempts` and `_sleep_ms` are plain context data."""
    with engine_stack(engine_dsn, workers=1, test_hooks=False) as stack:
        api = client(stack)
        context = {"even_number": 6, "_fail_attempts": {"linear_step_1": 2}, "_sleep_ms": {"linear_step_2": 600_000}}
        started = time.monotonic()
        body = api.wait(api.create(LINEAR, context), timeout=30)
        assert body["status"] == "complete" and time.monotonic() - started < 30
        assert all(s["attempts"] == 1 for s in body["steps"])


def _step(task: dict[str, Any], name: str) -> tuple[str, int]:
    step = next(s for s in task["steps"] if s["name"] == name)
    return step["current_state"], step["attempts"]
