"""Fault tests against real processes (issue 19). The engine's faults (test_engine_*.py) reuse the engine tests'
EngineStack: tests/engine/conftest.py is loaded from its path (a conftest cannot be imported by name)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest
import requests

_ENGINE_CONFTEST = Path(__file__).resolve().parent.parent / "engine" / "conftest.py"


def _engine_fixtures() -> ModuleType:
    name = "_reliability_engine_fixtures"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _ENGINE_CONFTEST)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before executing it: its dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def engine_stack() -> Any:
    """The EngineStack class of tests/engine/conftest.py: api, orchestrator and workers as real processes."""
    return _engine_fixtures().EngineStack


SETTLED = ("complete", "blocked_by_failures", "error")


class EngineClient:
    """POST and GET against a stack's API, with waits on a task's state and on /health/ready."""

    def __init__(self, api_url: str) -> None:
        self.url = api_url
        self.http = requests.Session()

    def create(self, workflow: tuple[str, str], context: dict[str, Any], **fields: Any) -> str:
        namespace, name = workflow
        body = {"namespace": namespace, "name": name, "version": "1.0.0", "context": context, **fields}
        resp = self.http.post(f"{self.url}/v1/tasks", data=_dumps(body), headers=JSON, timeout=30)
        assert resp.status_code == 201, resp.text
        task_uuid: str = resp.json()["task_uuid"]
        return task_uuid

    def task(self, task_uuid: str) -> dict[str, Any]:
        resp = self.http.get(f"{self.url}/v1/tasks/{task_uuid}", timeout=30)
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = json.loads(resp.text)  # results may be integers of any size: see exact_ints
        return body

    def steps(self, task_uuid: str) -> dict[str, dict[str, Any]]:
        return {s["name"]: s for s in self.task(task_uuid)["steps"]}

    def wait(
        self, task_uuid: str, timeout: float = 60.0, until: Callable[[dict[str, Any]], bool] | None = None
    ) -> dict[str, Any]:
        """The task once `until(task)` holds (default: the task settled); AssertionError after `timeout`."""
        until = until or (lambda t: t["status"] in SETTLED)
        deadline = time.monotonic() + timeout
        while True:
            body = self.task(task_uuid)
            if until(body):
                return body
            steps = [(s["name"], s["current_state"], s["attempts"]) for s in body["steps"]]
            assert time.monotonic() < deadline, f"task {task_uuid} still {body['status']} after {timeout} s: {steps}"
            time.sleep(0.1)

    def ready(self) -> tuple[int, dict[str, Any]]:
        resp = self.http.get(f"{self.url}/health/ready", timeout=10)
        return resp.status_code, resp.json()

    def wait_ready(self, code: int, timeout: float = 15.0) -> tuple[float, dict[str, Any]]:
        """(seconds it took, body) for /health/ready to answer `code`; AssertionError after `timeout`."""
        started = time.monotonic()
        while True:
            got, body = self.ready()
            if got == code:
                return time.monotonic() - started, body
            assert time.monotonic() - started < timeout, f"/health/ready still {got} {body} after {timeout} s"
            time.sleep(0.05)


JSON = {"content-type": "application/json"}


def _dumps(body: object) -> bytes:
    return json.dumps(body).encode()


@pytest.fixture
def client() -> Callable[[Any], EngineClient]:
    """client(stack) -> an EngineClient on the stack's API."""
    return lambda stack: EngineClient(stack.api_url)


@pytest.fixture
def exact_ints() -> Iterator[None]:
    """Lets this test process convert integers of any size to and from text (results of tens of thousands of
    digits), restoring Python's default limit afterwards."""
    before = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(before)


def step_transitions(dsn: str, task_uuid: str, step_name: str) -> list[tuple[str, dict[str, Any]]]:
    """(to_state, metadata) of every transition of one step, in order."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT st.to_state, st.metadata FROM workflow_step_transitions st "
            "JOIN workflow_steps ws USING (workflow_step_uuid) JOIN named_steps n USING (named_step_uuid) "
            "WHERE ws.task_uuid = %s AND n.name = %s ORDER BY st.sort_key",
            (task_uuid, step_name),
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


@pytest.fixture
def transitions() -> Callable[[str, str, str], list[tuple[str, dict[str, Any]]]]:
    """transitions(dsn, task, step name) -> [(to_state, metadata)] in order."""
    return step_transitions


@pytest.fixture
def harness_top() -> Iterator[Path]:
    """A fresh folder for one test's harness work dir and output; 0755, as the embedded cluster's server account must
    enter it."""
    path = Path(tempfile.mkdtemp(prefix="baseline-reliability-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
