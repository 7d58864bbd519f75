"""`tasker migrate` as a process: schema, functions and templates on a fresh database; idempotent; DSN errors."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

from tasker.db import connect
from tasker.migrate import sql_files

pytestmark = pytest.mark.integration


def tasker(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tasker", *args], capture_output=True, text=True, timeout=120, env=env)


def test_migrate_is_idempotent_and_registers_templates(fresh_dsn: str) -> None:
    packaged = [version for version, _ in sql_files()]
    assert packaged[:2] == ["0001_schema", "0002_functions"] and packaged == sorted(packaged)
    first = tasker("migrate", "--dsn", fresh_dsn)
    assert first.returncode == 0, first.stderr
    assert ", ".join(packaged) in first.stdout
    second = tasker("migrate", env={**os.environ, "TASKER_DATABASE_URL": fresh_dsn})
    assert second.returncode == 0, second.stderr
    assert "none (up to date)" in second.stdout
    with psycopg.connect(fresh_dsn) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM tasker_schema_version ORDER BY version")]
        assert versions == packaged
        templates = conn.execute(
            "SELECT ns.name, nt.name, nt.version FROM named_tasks nt "
            "JOIN task_namespaces ns USING (task_namespace_uuid)"
        ).fetchall()
        assert sorted(templates) == [
            ("complex_workflow", "complex_dag", "1.0.0"),
            ("diamond_workflow", "diamond_pattern", "1.0.0"),
            ("linear_workflow", "mathematical_sequence", "1.0.0"),
            ("tree_workflow", "hierarchical_tree", "1.0.0"),
        ]
        assert conn.execute("SELECT count(*) FROM named_steps").fetchone() == (23,)
        functions = {
            r[0]
            for r in conn.execute(
                "SELECT proname FROM pg_proc WHERE proname IN ('get_next_ready_tasks', 'get_step_readiness_status', "
                "'get_task_execution_context', 'transition_task_state_atomic', 'get_step_transitive_dependencies')"
            )
        }
        assert len(functions) == 5
        # JIT would compile the readers' queries once the tables grow past jit_above_cost (~70 ms per call)
        no_jit = conn.execute(
            "SELECT proname FROM pg_proc WHERE 'jit=off' = ANY (proconfig) AND proname IN ('get_next_ready_tasks', "
            "'get_step_readiness_status', 'get_task_execution_context', 'get_step_transitive_dependencies')"
        ).fetchall()
        assert len(no_jit) == 4
    with connect(fresh_dsn) as engine:
        assert engine.execute("SHOW jit").fetchone() == ("off",)


def test_missing_dsn_says_how_to_fix() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TASKER_DATABASE_URL"}
    result = tasker("migrate", env=env)
    assert result.returncode != 0
    assert "--dsn" in result.stderr and "TASKER_DATABASE_URL" in result.stderr
