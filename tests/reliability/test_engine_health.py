"""Issue 19, health: /health/ready reflects whether workers and the orchestrator are alive and consuming.

Reported: workers killed by a poison task stayed dead, nothing completed, and /health/ready stayed 200. Now ready
means a task posted now would run: the database answers, an orchestrator is live, and every namespace of a
registered template is served by a live worker; a process is live while its heartbeat connection is open (a killed
one drops out at once) and its heartbeat is fresh (a hung one drops out after three heartbeat periods).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LINEAR = ("linear_workflow", "mathematical_sequence")
NO_WORKER = "no live worker serves namespace complex_workflow, diamond_workflow, linear_workflow, tree_workflow"


def test_ready_follows_dead_hung_and_restarted_processes(
    engine_dsn: str, engine_stack: Any, client: Callable[[Any], Any]
) -> None:
    # Heartbeats every 0.5 s: a hung process is stale after 1.5 s.
    with engine_stack(engine_dsn, workers=2, heartbeat_interval=0.5) as stack:
        api = client(stack)
        assert api.ready() == (200, {"status": "ok"})

        stack.kill("worker-1")
        assert api.ready() == (200, {"status": "ok"}), "one live worker still serves every namespace"
        stack.kill("worker-2")
        took, body = api.wait_ready(503, timeout=5)
        assert body == {"status": "unavailable", "detail": NO_WORKER}
        assert took < 2, "a killed worker's heartbeat connection closes with it"

        waiting = api.create(LINEAR, {"even_number": 6})  # accepted, but nothing runs it
        stack.start_worker("worker-3")
        api.wait_ready(200, timeout=15)
        assert api.wait(waiting, timeout=30)["status"] == "complete"

        stack.signal("worker-3", signal.SIGSTOP)  # hung: its connections stay open, its heartbeat stops
        try:
            took, body = api.wait_ready(503, timeout=10)
            assert body["detail"] == NO_WORKER
        finally:
            stack.signal("worker-3", signal.SIGCONT)
        api.wait_ready(200, timeout=10)

        stack.kill("orchestrator")
        _, body = api.wait_ready(503, timeout=5)
        assert body == {"status": "unavailable", "detail": "no live orchestrator"}
        stack.start_orchestrator("orchestrator-2")
        api.wait_ready(200, timeout=15)
        assert api.wait(api.create(LINEAR, {"even_number": 6}), timeout=30)["status"] == "complete"


def test_every_namespace_needs_a_live_worker(engine_dsn: str, engine_stack: Any, client: Callable[[Any], Any]) -> None:
    with engine_stack(engine_dsn, workers=0) as stack:
        api = client(stack)
        stack.start_worker("linear-only", "--namespace", "linear_workflow")
        others = "no live worker serves namespace complex_workflow, diamond_workflow, tree_workflow"
        deadline = time.monotonic() + 15
        while api.ready() != (503, {"status": "unavailable", "detail": others}):
            assert time.monotonic() < deadline, api.ready()
            time.sleep(0.05)
        rest = ("complex_workflow", "diamond_workflow", "tree_workflow")
        stack.start_worker("the-rest", *(arg for ns in rest for arg in ("--namespace", ns)))
        api.wait_ready(200, timeout=15)
