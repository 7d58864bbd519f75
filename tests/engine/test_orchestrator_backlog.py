"""The orchestrator's safety-net poll drains a backlog larger than one batch without waiting a poll interval."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from tasker.db import ORCHESTRATION_CHANNEL, connect
from tasker.orchestration.orchestrator import Orchestrator

pytestmark = pytest.mark.integration

TASKS = 25  # two and a half batches of 10

STARTED_SQL = """
SELECT count(DISTINCT ws.task_uuid) FROM workflow_steps ws
JOIN workflow_step_transitions st ON st.workflow_step_uuid = ws.workflow_step_uuid AND st.most_recent
WHERE st.to_state = 'enqueued'
"""


def test_a_full_batch_polls_again_at_once(engine_dsn: str, create_task: Callable[..., Any]) -> None:
    for _ in range(TASKS):  # created before the orchestrator listens: only its poll can find them
        create_task(engine_dsn, "linear_workflow", "mathematical_sequence", {"even_number": 6})
    orchestrator = Orchestrator(engine_dsn, poll_interval=60.0, batch_size=10)
    stop = threading.Event()
    thread = threading.Thread(target=orchestrator.run, args=(stop,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        started = 0
        with connect(engine_dsn) as conn:
            while time.monotonic() < deadline and started < TASKS:
                started = conn.execute(STARTED_SQL).fetchone()[0]  # type: ignore[index]
                time.sleep(0.05)
        assert started == TASKS, f"{started} of {TASKS} tasks started; the rest waited for the next 60 s poll"
        # three polls: two full batches, then one with the remaining five; no poll beyond that
        assert orchestrator.stats.polls == 3
    finally:
        stop.set()
        with connect(engine_dsn) as conn:  # wake it from its 60 s wait so it sees the stop
            conn.execute("SELECT pg_notify(%s, 'result')", (ORCHESTRATION_CHANNEL,))
            conn.commit()
        thread.join(timeout=10)
    assert not thread.is_alive()
