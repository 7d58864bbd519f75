"""The five SQL functions against a real PostgreSQL: readiness, backoff, retries, execution status, CAS, ancestry."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tasker.db import connect
from tasker.migrate import register_template
from tasker.templates import parse_template

pytestmark = pytest.mark.integration

WORKFLOWS = {
    "linear": ("linear_workflow", "mathematical_sequence"),
    "diamond": ("diamond_workflow", "diamond_pattern"),
    "complex_dag": ("complex_workflow", "complex_dag"),
    "tree": ("tree_workflow", "hierarchical_tree"),
}


NewTask = Callable[..., tuple[uuid.UUID, dict[str, uuid.UUID]]]


@pytest.fixture
def new_task(clean_dsn: str, create_task: Callable[..., Any]) -> NewTask:
    """new_task(conn, key, priority=0) -> (task uuid, {step name: step uuid}), created as the API creates tasks."""

    def make(conn: psycopg.Connection, key: str, priority: int = 0) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
        namespace, name = WORKFLOWS[key]
        task = create_task(clean_dsn, namespace, name, {"even_number": 6}, priority=priority)
        steps = conn.execute(
            "SELECT ns.name, ws.workflow_step_uuid FROM workflow_steps ws "
            "JOIN named_steps ns USING (named_step_uuid) WHERE ws.task_uuid = %s",
            (task.task_uuid,),
        ).fetchall()
        return task.task_uuid, dict(steps)

    return make


def set_step(conn: psycopg.Connection, step: uuid.UUID, state: str, **columns: object) -> None:
    conn.execute("SELECT tasker_transition_step(%s, %s)", (step, state))
    for column, value in columns.items():
        conn.execute(f"UPDATE workflow_steps SET {column} = %s WHERE workflow_step_uuid = %s", (value, step))


def set_task(conn: psycopg.Connection, task: uuid.UUID, state: str) -> None:
    conn.execute("SELECT tasker_transition_task(%s, %s)", (task, state))


def readiness(conn: psycopg.Connection, task: uuid.UUID) -> dict[str, dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return {row["name"]: row for row in cur.execute("SELECT * FROM get_step_readiness_status(%s)", (task,))}


def context(conn: psycopg.Connection, task: uuid.UUID) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM get_task_execution_context(%s)", (task,)).fetchone()
    assert row is not None
    return row


def now(conn: psycopg.Connection) -> datetime:
    return conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]


# ------------------------------------------------------------------------------ get_step_readiness_status


def test_fresh_task_only_roots_are_ready(conn: psycopg.Connection, new_task: NewTask) -> None:
    task, _ = new_task(conn, "diamond")
    r = readiness(conn, task)
    assert r["diamond_start"]["ready_for_execution"] and r["diamond_start"]["total_parents"] == 0
    end = r["diamond_end"]
    assert (end["ready_for_execution"], end["dependencies_satisfied"], end["total_parents"]) == (False, False, 2)
    assert all(row["current_state"] == "pending" and row["retry_eligible"] for row in r.values())


def test_dependencies_satisfied_by_complete_or_resolved_manually(conn: psycopg.Connection, new_task: NewTask) -> None:
    task, steps = new_task(conn, "diamond")
    for name in ("diamond_start", "diamond_branch_b"):
        set_step(conn, steps[name], "complete")
    assert readiness(conn, task)["diamond_end"]["completed_parents"] == 1
    assert not readiness(conn, task)["diamond_end"]["ready_for_execution"]
    set_step(conn, steps["diamond_branch_c"], "resolved_manually")
    end = readiness(conn, task)["diamond_end"]
    assert (end["completed_parents"], end["dependencies_satisfied"], end["ready_for_execution"]) == (2, True, True)


def test_retry_backoff_not_elapsed_then_elapsed(conn: psycopg.Connection, new_task: NewTask) -> None:
    task, steps = new_task(conn, "linear")
    step = steps["linear_step_1"]
    t = now(conn)
    set_step(conn, step, "waiting_for_retry", attempts=1, last_attempted_at=t, backoff_request_seconds=60)
    row = readiness(conn, task)["linear_step_1"]
    assert row["retry_eligible"] and not row["ready_for_execution"]
    assert row["next_retry_at"] == t + timedelta(seconds=60)
    conn.execute("UPDATE workflow_steps SET last_attempted_at = now() - interval '61 seconds'")
    assert readiness(conn, task)["linear_step_1"]["ready_for_execution"]


@pytest.mark.parametrize(("attempts", "seconds"), [(1, 2), (2, 4), (5, 32), (6, 60), (20, 60)])
def test_default_backoff_is_exponential_capped_at_60s(
    conn: psycopg.Connection, attempts: int, seconds: int, new_task: NewTask
) -> None:
    task, steps = new_task(conn, "linear")
    t = now(conn)
    set_step(conn, steps["linear_step_1"], "waiting_for_retry", attempts=attempts, max_attempts=50, last_attempted_at=t)
    assert readiness(conn, task)["linear_step_1"]["next_retry_at"] == t + timedelta(seconds=seconds)


def test_max_attempts_reached_or_not_retryable_is_not_eligible(conn: psycopg.Connection, new_task: NewTask) -> None:
    task, steps = new_task(conn, "diamond")
    set_step(conn, steps["diamond_start"], "complete")
    old = now(conn) - timedelta(hours=1)
    set_step(conn, steps["diamond_branch_b"], "waiting_for_retry", attempts=3, last_attempted_at=old)
    set_step(conn, steps["diamond_branch_c"], "waiting_for_retry", attempts=1, retryable=False, last_attempted_at=old)
    r = readiness(conn, task)
    for name in ("diamond_branch_b", "diamond_branch_c"):
        assert (r[name]["retry_eligible"], r[name]["ready_for_execution"]) == (False, False)
    assert (r["diamond_branch_b"]["attempts"], r["diamond_branch_b"]["max_attempts"]) == (3, 3)


def test_in_process_step_is_not_ready_and_step_filter_applies(conn: psycopg.Connection, new_task: NewTask) -> None:
    task, steps = new_task(conn, "tree")
    conn.execute("UPDATE workflow_steps SET in_process = true WHERE workflow_step_uuid = %s", (steps["root"],))
    rows = conn.execute(
        "SELECT name, ready_for_execution FROM get_step_readiness_status(%s, %s)",
        (task, [steps["root"], steps["join"]]),
    ).fetchall()
    assert sorted(rows) == [("join", False), ("root", False)]


# ------------------------------------------------------------------------------ get_task_execution_context


def test_execution_context_follows_the_status_priority(conn: psycopg.Connection, new_task: NewTask) -> None:
    task, steps = new_task(conn, "diamond")
    c = context(conn, task)
    assert (c["execution_status"], c["ready_steps"], c["pending_steps"], c["total_steps"]) == (
        "has_ready_steps",
        1,
        4,
        4,
    )
    assert c["recommended_action"] == "execute_ready_steps"

    set_step(conn, steps["diamond_start"], "in_progress")
    c = context(conn, task)
    assert (c["execution_status"], c["in_progress_steps"], c["recommended_action"]) == (
        "processing",
        1,
        "wait_for_completion",
    )

    set_step(conn, steps["diamond_start"], "complete")
    set_step(conn, steps["diamond_branch_b"], "complete")
    set_step(conn, steps["diamond_branch_c"], "waiting_for_retry", attempts=1, last_attempted_at=now(conn))
    c = context(conn, task)
    assert (c["execution_status"], c["health_status"]) == ("waiting_for_dependencies", "healthy")
    assert float(c["completion_percentage"]) == 50.0

    set_step(conn, steps["diamond_branch_c"], "error", attempts=3)
    c = context(conn, task)
    assert (c["execution_status"], c["failed_steps"], c["health_status"], c["recommended_action"]) == (
        "blocked_by_failures",
        1,
        "blocked",
        "handle_failures",
    )


def test_blocked_by_failures_outranks_ready_steps(conn: psycopg.Connection, new_task: NewTask) -> None:
    task, steps = new_task(conn, "diamond")
    set_step(conn, steps["diamond_start"], "complete")
    set_step(conn, steps["diamond_branch_b"], "error", attempts=1, retryable=False)
    c = context(conn, task)
    assert c["ready_steps"] == 1 and c["execution_status"] == "blocked_by_failures"


def test_failed_but_retry_eligible_step_is_recovering(conn: psycopg.Connection, new_task: NewTask) -> None:
    task, steps = new_task(conn, "linear")
    set_step(conn, steps["linear_step_1"], "error", attempts=1)
    c = context(conn, task)
    assert (c["failed_steps"], c["health_status"]) == (1, "recovering")
    assert c["execution_status"] != "blocked_by_failures"


def test_all_complete(conn: psycopg.Connection, new_task: NewTask) -> None:
    task, steps = new_task(conn, "linear")
    for step in steps.values():
        set_step(conn, step, "complete")
    c = context(conn, task)
    assert (c["execution_status"], float(c["completion_percentage"]), c["recommended_action"]) == (
        "all_complete",
        100.0,
        "finalize_task",
    )


# ------------------------------------------------------------------------------ transition_task_state_atomic


def task_state(conn: psycopg.Connection, task: uuid.UUID) -> tuple[str, int]:
    return conn.execute(
        "SELECT to_state, sort_key FROM task_transitions WHERE task_uuid = %s AND most_recent", (task,)
    ).fetchone()


def test_cas_succeeds_from_the_current_state_and_fails_from_another(
    conn: psycopg.Connection, new_task: NewTask
) -> None:
    task, _ = new_task(conn, "linear")
    processor = uuid.uuid4()
    cas = "SELECT transition_task_state_atomic(%s, %s, %s, %s, %s)"
    assert conn.execute(cas, (task, "pending", "initializing", processor, '{"why": "t"}')).fetchone()[0] is True
    assert task_state(conn, task) == ("initializing", 1)
    assert conn.execute(cas, (task, "pending", "complete", processor, "{}")).fetchone()[0] is False
    assert task_state(conn, task) == ("initializing", 1)
    row = conn.execute(
        "SELECT from_state, processor_uuid, metadata FROM task_transitions WHERE task_uuid = %s AND most_recent",
        (task,),
    ).fetchone()
    assert row == ("pending", processor, {"why": "t"})
    assert conn.execute(cas, (uuid.uuid4(), "pending", "complete", processor, "{}")).fetchone()[0] is False


def test_concurrent_cas_only_one_wins(clean_dsn: str, conn: psycopg.Connection, new_task: NewTask) -> None:
    task, _ = new_task(conn, "linear")
    cas = "SELECT transition_task_state_atomic(%s, 'pending', %s, NULL, '{}')"
    results: dict[str, bool] = {}
    with connect(clean_dsn) as other:
        with conn.transaction():
            results["first"] = conn.execute(cas, (task, "initializing")).fetchone()[0]

            def second() -> None:
                results["second"] = other.execute(cas, (task, "error")).fetchone()[0]

            thread = threading.Thread(target=second)
            thread.start()
            thread.join(0.3)
            assert thread.is_alive(), "the second CAS must wait for the first transaction"
        thread.join(10)
    assert results == {"first": True, "second": False}
    assert task_state(conn, task) == ("initializing", 1)


# ------------------------------------------------------------------------------ get_step_transitive_dependencies


def ancestors(conn: psycopg.Connection, step: uuid.UUID) -> dict[str, int]:
    rows = conn.execute("SELECT step_name, distance FROM get_step_transitive_dependencies(%s)", (step,)).fetchall()
    assert len(rows) == len({r[0] for r in rows}), "each ancestor once"
    return dict(rows)


def test_ancestors_with_shortest_distances(conn: psycopg.Connection, new_task: NewTask) -> None:
    _, tree = new_task(conn, "tree")
    assert ancestors(conn, tree["join"]) == {
        "leaf_a": 1,
        "leaf_b": 1,
        "leaf_c": 1,
        "leaf_d": 1,
        "branch_left": 2,
        "branch_right": 2,
        "root": 3,
    }
    assert ancestors(conn, tree["root"]) == {}
    _, dag = new_task(conn, "complex_dag")
    assert ancestors(conn, dag["finalize"]) == {
        "validate": 1,
        "transform": 1,
        "analyze": 1,
        "left": 2,
        "right": 2,
        "init": 3,
    }


def test_deep_ancestry(conn: psycopg.Connection, clean_dsn: str, create_task: Callable[..., Any]) -> None:
    depth = 40
    steps = [{"name": "deep_0"}] + [{"name": f"deep_{i}", "depends_on": [f"deep_{i - 1}"]} for i in range(1, depth)]
    register_template(conn, parse_template({"namespace": "deep", "name": "chain", "version": "1.0.0", "steps": steps}))
    task = create_task(clean_dsn, "deep", "chain", {"even_number": 2})
    last = conn.execute(
        "SELECT ws.workflow_step_uuid FROM workflow_steps ws JOIN named_steps n USING (named_step_uuid) "
        "WHERE ws.task_uuid = %s AND n.name = %s",
        (task.task_uuid, f"deep_{depth - 1}"),
    ).fetchone()[0]
    found = ancestors(conn, last)
    assert found == {f"deep_{i}": depth - 1 - i for i in range(depth - 1)}


def test_ancestors_carry_results_and_processed_flag(conn: psycopg.Connection, new_task: NewTask) -> None:
    _, steps = new_task(conn, "linear")
    conn.execute(
        "UPDATE workflow_steps SET results = %s, processed = true WHERE workflow_step_uuid = %s",
        (str(6**16), steps["linear_step_1"]),
    )
    rows = conn.execute(
        "SELECT step_name, results, processed FROM get_step_transitive_dependencies(%s)", (steps["linear_step_3"],)
    ).fetchall()
    assert rows == [("linear_step_2", None, False), ("linear_step_1", 6**16, True)]


# ------------------------------------------------------------------------------ get_next_ready_tasks


def next_ready(conn: psycopg.Connection, limit: int = 10) -> list[tuple]:
    return conn.execute(
        "SELECT task_uuid, task_name, priority, namespace_name, ready_steps_count, current_state "
        "FROM get_next_ready_tasks(%s)",
        (limit,),
    ).fetchall()


def test_next_ready_tasks_filters_and_orders(conn: psycopg.Connection, new_task: NewTask) -> None:
    low, _ = new_task(conn, "linear", priority=0)
    high, _ = new_task(conn, "diamond", priority=5)
    running, _ = new_task(conn, "linear")
    set_task(conn, running, "steps_in_process")
    retry_later, rsteps = new_task(conn, "linear")
    set_task(conn, retry_later, "waiting_for_retry")
    set_step(conn, rsteps["linear_step_1"], "waiting_for_retry", attempts=1, last_attempted_at=now(conn))
    retry_now, nsteps = new_task(conn, "diamond")
    set_task(conn, retry_now, "waiting_for_retry")
    set_step(
        conn, nsteps["diamond_start"], "waiting_for_retry", attempts=1, last_attempted_at=now(conn) - timedelta(hours=1)
    )
    done, _ = new_task(conn, "linear")
    set_task(conn, done, "complete")

    rows = next_ready(conn)
    assert [r[0] for r in rows] == [high, low, retry_now] or [r[0] for r in rows] == [high, retry_now, low]
    assert rows[0] == (high, "diamond_pattern", 5, "diamond_workflow", 1, "pending")
    assert {r[0] for r in rows} == {high, low, retry_now}
    assert next(r for r in rows if r[0] == retry_now)[5] == "waiting_for_retry"
    assert len(next_ready(conn, 1)) == 1
    assert next_ready(conn, 0) == []


def test_age_bonus_lifts_old_tasks(conn: psycopg.Connection, new_task: NewTask) -> None:
    old, _ = new_task(conn, "linear", priority=0)
    young, _ = new_task(conn, "linear", priority=5)
    conn.execute("UPDATE tasks SET created_at = now() - interval '2 hours' WHERE task_uuid = %s", (old,))
    rows = conn.execute("SELECT task_uuid, computed_priority FROM get_next_ready_tasks(10)").fetchall()
    assert [r[0] for r in rows] == [old, young]
    assert rows[0][1] == pytest.approx(10.0)


def test_locked_tasks_are_skipped(clean_dsn: str, conn: psycopg.Connection, new_task: NewTask) -> None:
    a, _ = new_task(conn, "linear", priority=1)
    b, _ = new_task(conn, "linear", priority=0)
    with connect(clean_dsn) as other, other.transaction():
        assert [r[0] for r in other.execute("SELECT task_uuid FROM get_next_ready_tasks(1)")] == [a]
        assert [r[0] for r in next_ready(conn)] == [b]
    assert [r[0] for r in next_ready(conn)] == [a, b]


# ------------------------------------------------------------------------------ the cheaper readiness views


def test_cheap_readiness_agrees_with_the_full_view_on_a_mixed_dataset(clean_dsn: str) -> None:
    """tasker_readiness_flags (lazy dependency test), tasker_ready_step_keys (the ready rows as a filter) and
    tasker_readiness_report (parent counts) agree on every step, and get_task_execution_context's and
    get_next_ready_tasks' ready counts match the full view, over the harness's mixed-state dataset."""
    from baseline.targets.tasker.dataset import load_dataset

    load_dataset(clean_dsn, 400, 7)
    with connect(clean_dsn) as conn:
        conn.execute("UPDATE workflow_steps SET backoff_request_seconds = 0 WHERE backoff_request_seconds = 5")
        differ = conn.execute(
            "SELECT count(*) FROM tasker_readiness_flags a JOIN tasker_readiness_report b USING (workflow_step_uuid) "
            "WHERE a.ready_for_execution IS DISTINCT FROM b.ready_for_execution "
            "   OR a.retry_eligible IS DISTINCT FROM b.retry_eligible OR a.current_state <> b.current_state"
        ).fetchone()
        assert differ == (0,)
        mixed = conn.execute(
            "SELECT count(*) FILTER (WHERE ready_for_execution), count(*) FILTER (WHERE NOT ready_for_execution "
            "AND current_state = 'pending') FROM tasker_readiness_report"
        ).fetchone()
        assert mixed is not None and mixed[0] > 0 and mixed[1] > 0  # both outcomes are exercised
        # The filter view get_next_ready_tasks counts through holds exactly the ready steps.
        ready_rows = "SELECT workflow_step_uuid, task_uuid FROM tasker_readiness_report WHERE ready_for_execution"
        filtered = "SELECT workflow_step_uuid, task_uuid FROM tasker_ready_step_keys"
        mismatched = conn.execute(f"SELECT count(*) FROM (({ready_rows}) EXCEPT ({filtered})) a").fetchone()
        extra = conn.execute(f"SELECT count(*) FROM (({filtered}) EXCEPT ({ready_rows})) b").fetchone()
        assert (mismatched, extra) == ((0,), (0,))
        wrong = conn.execute(
            "SELECT count(*) FROM tasks t CROSS JOIN get_task_execution_context(t.task_uuid) c "
            "WHERE c.ready_steps <> (SELECT count(*) FROM tasker_readiness_report r "
            "                        WHERE r.task_uuid = t.task_uuid AND r.ready_for_execution)"
        ).fetchone()
        assert wrong == (0,)
        with conn.transaction(force_rollback=True):
            rows = conn.execute("SELECT task_uuid, ready_steps_count FROM get_next_ready_tasks(50)").fetchall()
        assert len(rows) > 10
        for task_uuid, ready in rows:
            full = conn.execute(
                "SELECT count(*) FROM tasker_readiness_report WHERE task_uuid = %s AND ready_for_execution",
                (task_uuid,),
            ).fetchone()
            assert full == (ready,)
