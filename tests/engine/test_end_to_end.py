"""api, orchestrator and two workers as real processes: all four workflows to exact results; a killed worker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import requests

from tasker.db import COMPLETION_CHANNEL

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXPECTED = {
    ("linear_workflow", "mathematical_sequence"): {
        "linear_step_1": 36,
        "linear_step_2": 1296,
        "linear_step_3": 1679616,
        "linear_step_4": 2821109907456,
    },
    ("diamond_workflow", "diamond_pattern"): {
        "diamond_start": 36,
        "diamond_branch_b": 1296,
        "diamond_branch_c": 1296,
        "diamond_end": 1679616,
    },
    ("complex_workflow", "complex_dag"): {
        "init": 36,
        "left": 1296,
        "right": 1296,
        "validate": 1679616,
        "transform": 1679616,
        "analyze": 1679616,
        "finalize": 4738381338321616896,
    },
    ("tree_workflow", "hierarchical_tree"): {
        "root": 36,
        "branch_left": 1296,
        "branch_right": 1296,
        "leaf_a": 1679616,
        "leaf_b": 1679616,
        "leaf_c": 1679616,
        "leaf_d": 1679616,
        "join": 7958661109946400884391936,
    },
}


@pytest.fixture
def listener(engine_dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(engine_dsn, autocommit=True) as conn:
        conn.execute(f"LISTEN {COMPLETION_CHANNEL}")
        yield conn


def create(api: str, namespace: str, name: str, context: dict) -> str:
    body = {"namespace": namespace, "name": name, "version": "1.0.0", "context": context}
    resp = requests.post(f"{api}/v1/tasks", json=body, timeout=10)
    assert resp.status_code == 201, resp.text
    return resp.json()["task_uuid"]


def wait_completed(listener: psycopg.Connection, task_uuids: set[str], timeout: float) -> None:
    pending = set(task_uuids)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for note in listener.notifies(timeout=max(0.0, deadline - time.monotonic()), stop_after=1):
            pending.discard(note.payload)
    assert not pending, f"no completion NOTIFY within {timeout} s for {sorted(pending)}"


def results_of(api: str, task_uuid: str) -> tuple[dict, dict]:
    body = requests.get(f"{api}/v1/tasks/{task_uuid}", timeout=10).json()
    return body, {s["name"]: s["results"] for s in body["steps"]}


@pytest.mark.parametrize("concurrency", [1, 4], ids=["one-loop", "four-loops-one-listener"])
def test_all_four_workflows_complete_with_exact_results(
    engine_dsn: str, listener: psycopg.Connection, concurrency: int, engine_stack: Any
) -> None:
    with engine_stack(engine_dsn, workers=2, worker_concurrency=concurrency) as stack:
        tasks = {
            create(stack.api_url, ns, name, {"even_number": 6}): (ns, name) for _ in range(3) for ns, name in EXPECTED
        }
        wait_completed(listener, set(tasks), timeout=60)
        for task_uuid, key in tasks.items():
            body, results = results_of(stack.api_url, task_uuid)
            assert (body["status"], body["execution_status"], body["completion_percentage"]) == (
                "complete",
                "all_complete",
                100.0,
            )
            assert results == EXPECTED[key]
            assert all(s["current_state"] == "complete" and s["attempts"] == 1 for s in body["steps"])
        assert all(p.poll() is None for p in stack.processes.values()), "every process is still up"


def test_killed_worker_loses_nothing(engine_dsn: str, listener: psycopg.Connection, engine_stack: Any) -> None:
    stack = engine_stack(engine_dsn, workers=1, visibility_timeout=2)
    with stack:
        context = {"even_number": 6, "_sleep_ms": {"linear_step_2": 1500}}
        task_uuid = create(stack.api_url, "linear_workflow", "mathematical_sequence", context)
        deadline = time.monotonic() + 20
        while results_of(stack.api_url, task_uuid)[0]["steps"][1]["current_state"] != "in_progress":
            assert time.monotonic() < deadline, "step 2 never started"
            time.sleep(0.05)
        stack.kill("worker-1")  # mid-step: its claim is committed, its result never will be
        stack.start_worker("worker-2")
        wait_completed(listener, {task_uuid}, timeout=30)
        body, results = results_of(stack.api_url, task_uuid)
    assert body["status"] == "complete"
    assert results == EXPECTED[("linear_workflow", "mathematical_sequence")]
    attempts = {s["name"]: s["attempts"] for s in body["steps"]}
    assert attempts == {"linear_step_1": 1, "linear_step_2": 2, "linear_step_3": 1, "linear_step_4": 1}
