"""Internal hand-offs commit asynchronously; terminal task states always commit synchronously."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tasker.db import connect
from tasker.orchestration.lifecycle import result_processor, step_enqueuer
from tasker.worker import Worker

pytestmark = pytest.mark.integration

PROCESSOR = uuid.uuid4()


def synchronous_commit(conn: psycopg.Connection) -> str:
    return str(conn.execute("SHOW synchronous_commit").fetchone()[0])  # type: ignore[index]


def test_handoff_connections_commit_asynchronously(engine_dsn: str, create_task: Callable[..., Any]) -> None:
    task = create_task(engine_dsn, "linear_workflow", "mathematical_sequence", {"even_number": 6})
    with connect(engine_dsn) as durable, connect(engine_dsn, durable=False) as handoff:
        assert synchronous_commit(durable) == "on"
        assert synchronous_commit(handoff) == "off"
        with handoff.transaction():
            started = step_enqueuer.start_task(handoff, task.task_uuid, PROCESSOR)
            assert started is not None and started.enqueued == ["linear_step_1"]
            assert synchronous_commit(handoff) == "off"  # an enqueue is redone by the poll if a crash loses it


def test_terminal_states_commit_synchronously(engine_dsn: str, create_task: Callable[..., Any]) -> None:
    """tasker_finalize_task, reached from both hand-offs, raises synchronous_commit for its transaction only."""
    settled = create_task(engine_dsn, "linear_workflow", "mathematical_sequence", {"even_number": 6})
    last = create_task(engine_dsn, "linear_workflow", "mathematical_sequence", {"even_number": 6})
    with connect(engine_dsn, durable=False) as handoff:
        handoff.execute(
            "SELECT tasker_transition_step(workflow_step_uuid, 'complete') FROM workflow_steps WHERE task_uuid = %s",
            (settled.task_uuid,),
        )
        with handoff.transaction():
            started = step_enqueuer.start_task(handoff, settled.task_uuid, PROCESSOR)
            assert started is not None and started.finalization is not None
            assert (started.finalization.execution_status, started.finalization.state) == ("all_complete", "complete")
            assert synchronous_commit(handoff) == "on"
        assert synchronous_commit(handoff) == "off"

        worker = Worker(engine_dsn)
        step_enqueuer.start_task(handoff, last.task_uuid, PROCESSOR)
        for _ in range(4):  # the linear chain, one step at a time; the last result is processed below
            step = worker.claim(handoff)
            assert step is not None
            worker.submit(handoff, step, worker.execute(step))
            if step.step_name != "linear_step_4":
                result_processor.process_next_result(handoff, PROCESSOR)
        with handoff.transaction():
            processed = result_processor.process_next_result(handoff, PROCESSOR)
            assert processed is not None and processed.finalization is not None
            assert processed.finalization.state == "complete"
            assert synchronous_commit(handoff) == "on"
        assert synchronous_commit(handoff) == "off"
