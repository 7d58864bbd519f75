"""Internal hand-offs commit asynchronously; terminal task states always commit synchronously."""

from __future__ import annotations

import uuid

import pytest

from tasker.db import connect
from tasker.orchestration.lifecycle import task_finalizer
from tasker.orchestration.lifecycle.task_initializer import TaskRequest, initialize_task

pytestmark = pytest.mark.integration


def test_handoff_connections_are_asynchronous_but_terminal_states_are_not(engine_dsn: str) -> None:
    with connect(engine_dsn) as durable, connect(engine_dsn, durable=False) as handoff:
        assert durable.execute("SHOW synchronous_commit").fetchone() == ("on",)
        assert handoff.execute("SHOW synchronous_commit").fetchone() == ("off",)
        task = initialize_task(durable, TaskRequest("linear_workflow", "mathematical_sequence", "1.0.0", {}))
        with handoff.transaction():
            task_finalizer.transition(handoff, task.task_uuid, "waiting_for_retry", uuid.uuid4(), {})
            assert handoff.execute("SHOW synchronous_commit").fetchone() == ("off",)
            task_finalizer.transition(handoff, task.task_uuid, "complete", uuid.uuid4(), {})
            assert handoff.execute("SHOW synchronous_commit").fetchone() == ("on",)
        assert handoff.execute("SHOW synchronous_commit").fetchone() == ("off",)  # SET LOCAL: this commit only


def test_server_side_finalization_commits_synchronously(engine_dsn: str) -> None:
    """tasker_finalize_task (the hand-off functions' finalizer) raises synchronous_commit for its transaction only."""
    with connect(engine_dsn, durable=False) as handoff:
        task = initialize_task(handoff, TaskRequest("linear_workflow", "mathematical_sequence", "1.0.0", {}))
        with handoff.transaction():
            handoff.execute(
                "SELECT tasker_transition_step(workflow_step_uuid, 'complete') FROM workflow_steps "
                "WHERE task_uuid = %s",
                (task.task_uuid,),
            )
            done = task_finalizer.finalize_task(handoff, task.task_uuid, "steps_in_process", ["complete"], uuid.uuid4())
            assert (done.execution_status, done.state) == ("all_complete", "complete")
            assert handoff.execute("SHOW synchronous_commit").fetchone() == ("on",)
        assert handoff.execute("SHOW synchronous_commit").fetchone() == ("off",)
