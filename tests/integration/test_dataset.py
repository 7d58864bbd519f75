"""The dataset loads into a database migrated by the engine's own `tasker migrate`, fast and reproducibly."""

from __future__ import annotations

import time

import psycopg
import pytest

from baseline.targets.contract import TargetError
from baseline.targets.tasker import TaskerTarget
from baseline.targets.tasker.dataset import load_dataset, plan_dataset
from baseline.targets.tasker.workload import sql_statements

pytestmark = pytest.mark.integration


def _state_counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return dict(
            conn.execute("SELECT to_state, count(*) FROM task_transitions WHERE most_recent GROUP BY 1").fetchall()
        )


def test_load_counts_states_and_results(fresh_dsn: str) -> None:
    TaskerTarget().migrate(fresh_dsn)
    started = time.monotonic()
    counts = load_dataset(fresh_dsn, 600, 3)
    elapsed = time.monotonic() - started
    assert elapsed < 10
    plan = plan_dataset(600, 3)
    assert counts["tasks"] == 600 and counts["steps"] == len(plan.steps)
    with psycopg.connect(fresh_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM tasks").fetchone()[0] == 600
        assert conn.execute("SELECT count(*) FROM workflow_steps").fetchone()[0] == counts["steps"]
        assert conn.execute("SELECT count(*) FROM workflow_step_edges").fetchone()[0] == counts["edges"]
        # 6^32 survives as an exact JSON number (no 64-bit or float truncation).
        joins = conn.execute(
            "SELECT ws.results::text, t.context->>'even_number' FROM workflow_steps ws "
            "JOIN named_steps s USING (named_step_uuid) JOIN tasks t USING (task_uuid) "
            "WHERE s.name = 'join' AND ws.processed"
        ).fetchall()
        assert joins and all(int(r) == int(e) ** 32 for r, e in joins)
        ready = conn.execute("SELECT count(*) FROM get_next_ready_tasks(100)").fetchone()[0]
        assert ready > 0
    assert _state_counts(fresh_dsn) == counts["task_states"]


def test_same_seed_loads_identical_content(pg_cluster, fresh_dsn: str) -> None:
    TaskerTarget().migrate(fresh_dsn)
    load_dataset(fresh_dsn, 200, 11)
    other = pg_cluster.create_database("dataset_twin")
    try:
        TaskerTarget().migrate(other)
        load_dataset(other, 200, 11)
        query = "SELECT md5(string_agg(task_uuid::text || context::text, ',' ORDER BY task_uuid)) FROM tasks"
        step_query = (
            "SELECT md5(string_agg(workflow_step_uuid::text || coalesce(results::text, ''), ',' ORDER BY 1)) "
            "FROM workflow_steps"
        )
        with psycopg.connect(fresh_dsn) as a, psycopg.connect(other) as b:
            assert a.execute(query).fetchone() == b.execute(query).fetchone()
            assert a.execute(step_query).fetchone() == b.execute(step_query).fetchone()
    finally:
        pg_cluster.drop_database("dataset_twin")


def test_loading_twice_is_refused(fresh_dsn: str) -> None:
    TaskerTarget().migrate(fresh_dsn)
    load_dataset(fresh_dsn, 50, 1)
    with pytest.raises(TargetError, match="already holds 50 tasks"):
        load_dataset(fresh_dsn, 50, 1)


def test_unmigrated_database_gets_a_clear_error(fresh_dsn: str) -> None:
    with pytest.raises(psycopg.errors.UndefinedTable):
        load_dataset(fresh_dsn, 10, 1)


def test_sql_cases_find_their_subjects(fresh_dsn: str) -> None:
    TaskerTarget().migrate(fresh_dsn)
    load_dataset(fresh_dsn, 500, 42)
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        statements = sql_statements(conn)
    ids = [s.id for s in statements]
    assert len(ids) == len(set(ids)) == 4 + 5 + 5 + 10 + 5
    depths = {s.meta["depth"] for s in statements if s.function == "get_step_transitive_dependencies"}
    assert depths == {0, 1, 2, 3}
    assert len({s.params[0] for s in statements if s.function == "get_step_readiness_status"}) == 5
