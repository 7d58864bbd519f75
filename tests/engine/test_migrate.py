"""`tasker migrate` as a process: the schema and templates on a fresh database, idempotent at one version, refusing
another version unless told to rebuild, `--print-version`, DSN errors."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import psycopg
import pytest

from tasker.db import connect
from tasker.migrate import load_schema

pytestmark = pytest.mark.integration

VERSION = load_schema().version


def tasker(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tasker", *args], capture_output=True, text=True, timeout=120, env=env)


def recorded_versions(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM tasker_schema_version ORDER BY version")]


def test_print_version_is_the_content_hash_and_needs_no_database() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TASKER_DATABASE_URL"}
    result = tasker("migrate", "--print-version", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == VERSION


def test_migrate_is_idempotent_and_registers_templates(fresh_dsn: str) -> None:
    first = tasker("migrate", "--dsn", fresh_dsn)
    assert first.returncode == 0, first.stderr
    assert f"schema {VERSION[:12]} created" in first.stdout
    second = tasker("migrate", env={**os.environ, "TASKER_DATABASE_URL": fresh_dsn})
    assert second.returncode == 0, second.stderr
    assert f"schema {VERSION[:12]} already in place" in second.stdout
    assert recorded_versions(fresh_dsn) == [VERSION]
    with psycopg.connect(fresh_dsn) as conn:
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
        # JIT would compile the readers' queries once the tables grow past jit_above_cost
        no_jit = conn.execute(
            "SELECT proname FROM pg_proc WHERE 'jit=off' = ANY (proconfig) AND proname IN ('get_next_ready_tasks', "
            "'get_step_readiness_status', 'get_task_execution_context', 'get_step_transitive_dependencies')"
        ).fetchall()
        assert len(no_jit) == 4
    with connect(fresh_dsn) as engine:
        assert engine.execute("SHOW jit").fetchone() == ("off",)


def test_another_schema_is_refused_until_rebuilt(
    fresh_dsn: str, apply_old_migrations: Callable[[str], list[str]]
) -> None:
    """A database built by the old migrations: refused (naming the fix), left as it was; --rebuild replaces it."""
    old_versions = apply_old_migrations(fresh_dsn)
    with psycopg.connect(fresh_dsn) as conn:
        conn.execute("INSERT INTO task_namespaces (name) VALUES ('kept')")
    refused = tasker("migrate", "--dsn", fresh_dsn)
    assert refused.returncode != 0
    assert "another tasker schema" in refused.stderr and "0010_time_ordered_keys" in refused.stderr
    assert "tasker migrate --rebuild" in refused.stderr
    assert recorded_versions(fresh_dsn) == old_versions
    with psycopg.connect(fresh_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM task_namespaces").fetchone() == (1,)

    rebuilt = tasker("migrate", "--dsn", fresh_dsn, "--rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"schema {VERSION[:12]} created in place of the previous one" in rebuilt.stdout
    assert recorded_versions(fresh_dsn) == [VERSION]
    with psycopg.connect(fresh_dsn) as conn:
        views = {r[0] for r in conn.execute("SELECT viewname FROM pg_views WHERE schemaname = 'public'")}
        assert views == {"tasker_readiness_report", "tasker_readiness_flags", "tasker_ready_step_keys"}
        assert conn.execute("SELECT count(*) FROM task_namespaces WHERE name = 'kept'").fetchone() == (0,)
        conn.execute("INSERT INTO task_namespaces (name) VALUES ('kept')")
    again = tasker("migrate", "--dsn", fresh_dsn, "--rebuild")  # at this version already: nothing dropped
    assert again.returncode == 0 and "already in place" in again.stdout
    with psycopg.connect(fresh_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM task_namespaces WHERE name = 'kept'").fetchone() == (1,)


@pytest.mark.parametrize("damage", ["other version", "no version table"])
def test_engine_tables_of_an_unknown_version_are_refused(fresh_dsn: str, damage: str) -> None:
    assert tasker("migrate", "--dsn", fresh_dsn).returncode == 0
    with psycopg.connect(fresh_dsn) as conn:
        if damage == "other version":
            conn.execute("UPDATE tasker_schema_version SET version = %s", ("f" * 64,))
        else:
            conn.execute("DROP TABLE tasker_schema_version")
    refused = tasker("migrate", "--dsn", fresh_dsn)
    assert refused.returncode != 0 and "tasker migrate --rebuild" in refused.stderr
    expected = "version ffffffffffff" if damage == "other version" else "engine tables with no recorded version"
    assert expected in refused.stderr


def test_missing_dsn_says_how_to_fix() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TASKER_DATABASE_URL"}
    result = tasker("migrate", env=env)
    assert result.returncode != 0
    assert "--dsn" in result.stderr and "TASKER_DATABASE_URL" in result.stderr
