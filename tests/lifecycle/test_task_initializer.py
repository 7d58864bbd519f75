"""task_initializer, as the API runs it (initialize_task_async on an asyncio connection): task, steps, edges and
initial transitions in one statement, plus the orchestrator wake-up."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tasker.db import ORCHESTRATION_CHANNEL
from tasker.orchestration.lifecycle.task_initializer import TemplateNotFound
from tasker.templates import load_bundled_templates

pytestmark = pytest.mark.integration

ROUNDS = 40  # before --lifecycle-scale

CreateTask = Callable[..., Any]


def test_every_template_initializes_its_whole_graph(
    conn: psycopg.Connection, clean_dsn: str, create_task: CreateTask, repeat: Callable[[int], int]
) -> None:
    rounds = repeat(ROUNDS)
    created: dict[uuid.UUID, tuple[int, int]] = {}
    for _ in range(rounds):
        for template in load_bundled_templates():
            task = create_task(clean_dsn, template.namespace, template.name, {"even_number": 6})
            assert task.created and task.status == "pending" and task.step_count == len(template.steps)
            created[task.task_uuid] = (len(template.steps), sum(len(s.depends_on) for s in template.steps))
    rows = conn.execute(
        "SELECT t.task_uuid, "
        " (SELECT count(*) FROM workflow_steps ws WHERE ws.task_uuid = t.task_uuid),"
        " (SELECT count(*) FROM workflow_step_edges e JOIN workflow_steps ws ON ws.workflow_step_uuid = e.to_step_uuid"
        "   WHERE ws.task_uuid = t.task_uuid),"
        " (SELECT count(*) FROM workflow_step_transitions st JOIN workflow_steps ws USING (workflow_step_uuid)"
        "   WHERE ws.task_uuid = t.task_uuid AND st.most_recent AND st.to_state = 'pending'),"
        " (SELECT to_state FROM task_transitions tt WHERE tt.task_uuid = t.task_uuid AND tt.most_recent)"
        " FROM tasks t"
    ).fetchall()
    assert len(rows) == 4 * rounds
    for task_uuid, steps, edges, pending, state in rows:
        assert (steps, edges, pending, state) == (*created[task_uuid], created[task_uuid][0], "pending")


def test_wakes_the_orchestrator(listen: Callable[[str], psycopg.Connection], new_task: Callable[..., Any]) -> None:
    listener = listen(ORCHESTRATION_CHANNEL)
    task_uuids = {str(new_task("diamond")) for _ in range(5)}
    payloads = {n.payload for n in listener.notifies(timeout=2, stop_after=5)}
    assert payloads == {f"task:{t}" for t in task_uuids}


def test_idempotency_key_returns_the_existing_task(
    conn: psycopg.Connection, clean_dsn: str, create_task: CreateTask
) -> None:
    args = (clean_dsn, "linear_workflow", "mathematical_sequence", {"even_number": 6})
    first = create_task(*args, idempotency_key="k")
    again = create_task(*args, idempotency_key="k")
    assert (again.task_uuid, again.step_count, again.created) == (first.task_uuid, 4, False)
    assert conn.execute("SELECT count(*) FROM tasks").fetchone() == (1,)


def test_unknown_template(clean_dsn: str, create_task: CreateTask) -> None:
    with pytest.raises(TemplateNotFound, match=r"'linear_workflow/nope' version '1\.0\.0'"):
        create_task(clean_dsn, "linear_workflow", "nope", {})


def test_rejected_value_leaves_nothing_behind(
    conn: psycopg.Connection, clean_dsn: str, create_task: CreateTask
) -> None:
    with pytest.raises(psycopg.DataError):
        create_task(clean_dsn, "tree_workflow", "hierarchical_tree", {"even_number": 6}, reason="bad\x00")
    counts = conn.execute(
        "SELECT (SELECT count(*) FROM tasks), (SELECT count(*) FROM workflow_steps), "
        "(SELECT count(*) FROM task_transitions)"
    ).fetchone()
    assert counts == (0, 0, 0)


def test_graph_matches_the_template_edge_by_edge(
    conn: psycopg.Connection, clean_dsn: str, create_task: CreateTask
) -> None:
    """Edges (sent as positions in the steps array), per-step inputs, retry settings: exactly the template's."""
    for template in load_bundled_templates():
        task = create_task(clean_dsn, template.namespace, template.name, {"even_number": 6})
        edges = conn.execute(
            "SELECT pf.name, pt.name FROM workflow_step_edges e "
            "JOIN workflow_steps f ON f.workflow_step_uuid = e.from_step_uuid "
            "JOIN named_steps pf USING (named_step_uuid) "
            "JOIN workflow_steps t ON t.workflow_step_uuid = e.to_step_uuid "
            "JOIN named_steps pt ON pt.named_step_uuid = t.named_step_uuid WHERE t.task_uuid = %s",
            (task.task_uuid,),
        ).fetchall()
        assert sorted(edges) == sorted((dep, s.name) for s in template.steps for dep in s.depends_on)
        steps = conn.execute(
            "SELECT n.name, ws.inputs, ws.retryable, ws.max_attempts FROM workflow_steps ws "
            "JOIN named_steps n USING (named_step_uuid) WHERE ws.task_uuid = %s",
            (task.task_uuid,),
        ).fetchall()
        assert sorted(steps) == sorted(
            (s.name, {"handler": s.handler, "backoff_seconds": s.backoff_seconds}, s.retryable, s.max_attempts)
            for s in template.steps
        )


def test_keys_are_time_ordered(conn: psycopg.Connection, new_task: Callable[..., Any]) -> None:
    """Task, step and transition keys are UUIDv7 (sql/schema.sql): later rows sort after earlier ones in every key
    index."""
    tasks = [new_task("diamond") for _ in range(5)]
    assert [t.version for t in tasks] == [7] * 5 and tasks == sorted(tasks)
    rows = conn.execute(
        "SELECT ws.workflow_step_uuid, st.workflow_step_transition_uuid, tt.task_transition_uuid, "
        "       (extract(epoch FROM clock_timestamp()) * 1000)::bigint "
        "FROM workflow_steps ws JOIN workflow_step_transitions st USING (workflow_step_uuid) "
        "JOIN task_transitions tt ON tt.task_uuid = ws.task_uuid WHERE ws.task_uuid = ANY(%s)",
        (tasks,),
    ).fetchall()
    assert len(rows) == 5 * 4
    for step, step_transition, task_transition, now_ms in rows:
        assert (step.version, step_transition.version, task_transition.version) == (7, 7, 7)
        for key in (step, step_transition, task_transition):
            assert abs(now_ms - (key.int >> 80)) < 60_000  # the first 48 bits are the creation time in ms
