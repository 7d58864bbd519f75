"""The HTTP API as a real process: shapes, bad input (never a 500), idempotency, health."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import requests

pytestmark = pytest.mark.integration

LINEAR = {"namespace": "linear_workflow", "name": "mathematical_sequence", "version": "1.0.0"}


@pytest.fixture(scope="module")
def api(module_dsn: str, engine_stack: Any) -> Iterator[str]:
    with engine_stack(module_dsn, workers=0, orchestrator=False) as stack:
        yield stack.api_url


def post(api: str, body: object) -> requests.Response:
    return requests.post(f"{api}/v1/tasks", json=body, timeout=10)


def test_create_task_returns_uuid_status_and_step_count(api: str, module_dsn: str) -> None:
    resp = post(api, {**LINEAR, "context": {"even_number": 6}, "tags": ["a"], "priority": 3, "initiator": "me"})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["status"] == "pending" and body["step_count"] == 4
    with psycopg.connect(module_dsn) as conn:
        row = conn.execute(
            "SELECT context, tags, priority, initiator FROM tasks WHERE task_uuid = %s", (body["task_uuid"],)
        ).fetchone()
    assert row == ({"even_number": 6}, ["a"], 3, "me")


def test_get_task_shape(api: str) -> None:
    created = post(api, {**LINEAR, "context": {"even_number": 6}}).json()
    resp = requests.get(f"{api}/v1/tasks/{created['task_uuid']}", timeout=10)
    assert resp.status_code == 200
    body = resp.json()
    assert {k: body[k] for k in ("task_uuid", "name", "namespace", "version", "status", "total_steps")} == {
        "task_uuid": created["task_uuid"],
        "name": "mathematical_sequence",
        "namespace": "linear_workflow",
        "version": "1.0.0",
        "status": "pending",
        "total_steps": 4,
    }
    assert (body["execution_status"], body["ready_steps"], body["completion_percentage"]) == ("has_ready_steps", 1, 0)
    assert [s["name"] for s in body["steps"]] == [f"linear_step_{i}" for i in range(1, 5)]
    assert body["steps"][0].keys() == {"workflow_step_uuid", "name", "current_state", "attempts", "results"}


def test_unknown_template_is_404_naming_it(api: str) -> None:
    resp = post(api, {**LINEAR, "name": "no_such_flow", "context": {}})
    assert resp.status_code == 404
    assert "linear_workflow/no_such_flow" in resp.json()["detail"]
    resp = post(api, {**LINEAR, "version": "9.9.9", "context": {}})
    assert resp.status_code == 404 and "9.9.9" in resp.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**LINEAR}, "context"),
        ({"namespace": "linear_workflow", "version": "1.0.0", "context": {}}, "name"),
        ({**LINEAR, "context": [1, 2]}, "context"),
        ({**LINEAR, "context": {}, "priority": "high"}, "priority"),
        ({**LINEAR, "context": {}, "priority": 2**40}, "priority"),
        ({**LINEAR, "context": {}, "tags": "x"}, "tags"),
        ({**LINEAR, "context": {}, "colour": "red"}, "colour"),
        ({**LINEAR, "name": "", "context": {}}, "name"),
        ([1, 2, 3], "body"),
    ],
)
def test_malformed_body_is_4xx_naming_the_field(api: str, body: object, field: str) -> None:
    resp = post(api, body)
    assert resp.status_code == 422, resp.text
    assert field in str(resp.json()["detail"])


def test_invalid_json_is_4xx(api: str) -> None:
    resp = requests.post(f"{api}/v1/tasks", data=b"{not json", headers={"content-type": "application/json"}, timeout=10)
    assert resp.status_code == 422 and "json" in resp.text.lower()


@pytest.mark.parametrize("body", [{"context": {"x": "a\u0000b"}}, {"context": {}, "reason": "nul\u0000"}])
def test_values_postgres_rejects_are_4xx_not_500(api: str, body: dict) -> None:
    resp = post(api, {**LINEAR, **body})
    assert resp.status_code == 422, resp.text
    assert "rejected" in resp.json()["detail"]


def test_idempotency_key_returns_the_same_task(api: str, module_dsn: str) -> None:
    key = f"idem-{uuid.uuid4()}"
    first = post(api, {**LINEAR, "context": {"even_number": 6}, "idempotency_key": key})
    again = post(api, {**LINEAR, "context": {"even_number": 6}, "idempotency_key": key})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == first.json()
    with psycopg.connect(module_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM tasks WHERE idempotency_key = %s", (key,)).fetchone() == (1,)


def test_get_unknown_or_malformed_uuid(api: str) -> None:
    missing = requests.get(f"{api}/v1/tasks/{uuid.uuid4()}", timeout=10)
    assert missing.status_code == 404 and "no task" in missing.json()["detail"]
    bad = requests.get(f"{api}/v1/tasks/not-a-uuid", timeout=10)
    assert bad.status_code == 422 and "task_uuid" in bad.text


def test_health(api: str) -> None:
    assert requests.get(f"{api}/health", timeout=10).json() == {"status": "ok"}


def test_ready_is_503_naming_what_is_missing_without_an_orchestrator_and_workers(api: str) -> None:
    """This module's stack is the API alone: a task posted now would never run (tests/reliability has the rest)."""
    ready = requests.get(f"{api}/health/ready", timeout=10)
    assert ready.status_code == 503
    detail = ready.json()["detail"]
    assert ready.json()["status"] == "unavailable"
    assert "no live orchestrator" in detail
    namespaces = "complex_workflow, diamond_workflow, linear_workflow, tree_workflow"
    assert f"no live worker serves namespace {namespaces}" in detail


def test_ready_is_200_with_a_whole_stack(engine_dsn: str, engine_stack: Any) -> None:
    with engine_stack(engine_dsn, workers=1) as stack:
        ready = requests.get(f"{stack.api_url}/health/ready", timeout=10)
        assert ready.status_code == 200 and ready.json() == {"status": "ok"}


def test_ready_is_503_while_the_database_is_unreachable(engine_stack: Any, dead_dsn: str) -> None:
    stack = engine_stack(dead_dsn, workers=0, orchestrator=False)
    stack.spawn("api", "api", "--port", str(stack.api_port))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{stack.api_url}/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        ready = requests.get(f"{stack.api_url}/health/ready", timeout=10)
        assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
    finally:
        stack.stop()
