"""`tasker migrate`: apply the packaged SQL files once each, then register the bundled templates.

Idempotent: applied files are recorded in `tasker_schema_version`; an advisory lock serialises concurrent runs.
"""

from __future__ import annotations

from importlib import resources

import psycopg

from tasker.db import Jsonb, connect
from tasker.templates import TaskTemplate, load_bundled_templates

_LOCK_KEY = 7_300_417_211  # arbitrary, constant: one migrator at a time per database


def sql_files() -> list[tuple[str, str]]:
    """(version, sql text) of the packaged migrations in order; the version is the file name without .sql."""
    folder = resources.files("tasker.sql")
    files = sorted((e for e in folder.iterdir() if e.name.endswith(".sql")), key=lambda e: e.name)
    return [(e.name.removesuffix(".sql"), e.read_text()) for e in files]


def apply_migrations(conn: psycopg.Connection) -> list[str]:
    """Apply the files not applied yet; returns their versions."""
    applied_now: list[str] = []
    conn.execute(
        "CREATE TABLE IF NOT EXISTS tasker_schema_version ("
        " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    done = {row[0] for row in conn.execute("SELECT version FROM tasker_schema_version")}
    for version, text in sql_files():
        if version in done:
            continue
        with conn.transaction():
            conn.execute(text)  # no parameters: simple query protocol, several statements allowed
            conn.execute("INSERT INTO tasker_schema_version (version) VALUES (%s)", (version,))
        applied_now.append(version)
    return applied_now


def register_template(conn: psycopg.Connection, template: TaskTemplate) -> str:
    """Upsert namespace, named steps and the named task (its configuration is the template); returns its uuid."""
    with conn.transaction():
        ns_uuid = conn.execute(
            "INSERT INTO task_namespaces (name, description) VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE SET updated_at = now() RETURNING task_namespace_uuid",
            (template.namespace, f"{template.namespace} workflows"),
        ).fetchone()[0]  # type: ignore[index]
        for step in template.steps:
            conn.execute(
                "INSERT INTO named_steps (name, description) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
                (step.name, f"{step.handler} step"),
            )
        row = conn.execute(
            "INSERT INTO named_tasks (task_namespace_uuid, name, version, description, configuration) "
            "VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (task_namespace_uuid, name, version) DO UPDATE "
            "SET configuration = EXCLUDED.configuration, description = EXCLUDED.description, updated_at = now() "
            "RETURNING named_task_uuid",
            (ns_uuid, template.name, template.version, template.description, Jsonb(template.to_json())),
        ).fetchone()
    return str(row[0])  # type: ignore[index]


def migrate(dsn: str) -> list[str]:
    """Bring a database up to date and register the bundled templates; returns the versions applied now."""
    with connect(dsn) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            applied = apply_migrations(conn)
            for template in load_bundled_templates():
                register_template(conn, template)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied
