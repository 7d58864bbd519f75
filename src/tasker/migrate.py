"""`tasker migrate`: create the engine's schema in a database, then register the bundled templates.

The SQL under tasker/sql states the schema as it is now; no database is ever upgraded in place. The schema's
version is a hash of those files. A database already at this version is left as it is (its templates are
registered again); one carrying engine tables of another version, or of none recorded, is refused unless a
rebuild is asked for (`tasker migrate --rebuild`), which drops the engine's tables, views and functions, and every
task with them, first. An advisory lock serialises concurrent runs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Literal

import psycopg
from psycopg import sql

from tasker.db import Jsonb, connect
from tasker.templates import TaskTemplate, load_bundled_templates

_LOCK_KEY = 7_300_417_211  # arbitrary, constant: one migrator at a time per database
_VERSION_TABLE = (
    "CREATE TABLE tasker_schema_version (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
)


@dataclass(frozen=True)
class SqlFile:
    path: str  # relative to tasker/sql, e.g. "functions/get_next_ready_tasks.sql"
    text: str

    @property
    def defines(self) -> str:
        """The view or function the file defines: its file name."""
        return self.path.rsplit("/", 1)[-1].removesuffix(".sql")


@dataclass(frozen=True)
class Schema:
    functions: tuple[SqlFile, ...]
    tables: SqlFile
    views: tuple[SqlFile, ...]

    @property
    def files(self) -> tuple[SqlFile, ...]:
        """In the order they are applied: the functions first (a PL/pgSQL body resolves the tables it names only
        when it runs, and the tables' key defaults call tasker_uuid7), then the tables, then the views that read
        them."""
        return (*self.functions, self.tables, *self.views)

    @property
    def version(self) -> str:
        digest = hashlib.sha256()
        for file in self.files:
            digest.update(file.path.encode() + b"\0" + file.text.encode() + b"\0")
        return digest.hexdigest()

    @property
    def table_names(self) -> list[str]:
        return re.findall(r"^CREATE TABLE (\w+)", self.tables.text, re.MULTILINE)


def _sql_files(folder: Traversable, prefix: str) -> tuple[SqlFile, ...]:
    entries = sorted((e for e in folder.iterdir() if e.name.endswith(".sql")), key=lambda e: e.name)
    return tuple(SqlFile(f"{prefix}{e.name}", e.read_text(encoding="utf-8")) for e in entries)


def load_schema() -> Schema:
    root = resources.files("tasker.sql")
    tables = SqlFile("schema.sql", (root / "schema.sql").read_text(encoding="utf-8"))
    return Schema(_sql_files(root / "functions", "functions/"), tables, _sql_files(root / "views", "views/"))


class SchemaMismatch(RuntimeError):
    """The database carries another version of the engine's schema."""


@dataclass(frozen=True)
class Migration:
    version: str
    action: Literal["created", "rebuilt", "up to date"]
    previous: tuple[str, ...] = ()  # the versions a rebuild dropped (empty: engine tables with no version)


def _describe(versions: tuple[str, ...] | None) -> str:
    if not versions:
        return "engine tables with no recorded version"
    return "version " + ", ".join(v[:12] if re.fullmatch(r"[0-9a-f]{64}", v) else v for v in versions)


def _recorded_versions(conn: psycopg.Connection) -> tuple[str, ...] | None:
    """The versions tasker_schema_version records; None when the table does not exist."""
    if conn.execute("SELECT to_regclass('tasker_schema_version')").fetchone() == (None,):
        return None
    return tuple(row[0] for row in conn.execute("SELECT version FROM tasker_schema_version ORDER BY version"))


def _any_table_exists(conn: psycopg.Connection, names: list[str]) -> bool:
    row = conn.execute("SELECT bool_or(to_regclass(n) IS NOT NULL) FROM unnest(%s::text[]) AS n", (names,)).fetchone()
    return row == (True,)


def _drop_engine_objects(conn: psycopg.Connection, schema: Schema) -> None:
    views = [sql.Identifier(v.defines) for v in schema.views]
    tables = [sql.Identifier(t) for t in [*schema.table_names, "tasker_schema_version"]]
    conn.execute(sql.SQL("DROP VIEW IF EXISTS {} CASCADE").format(sql.SQL(", ").join(views)))
    # CASCADE: views of older versions read these tables too and go with them.
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.SQL(", ").join(tables)))
    signatures = conn.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.proname = ANY (%s) AND pg_function_is_visible(p.oid)",
        ([f.defines for f in schema.functions],),
    ).fetchall()
    for (signature,) in signatures:  # every overload, whatever its arguments were in that version
        conn.execute(sql.SQL("DROP FUNCTION {}").format(sql.SQL(signature)))


def apply_schema(conn: psycopg.Connection, *, rebuild: bool = False) -> Migration:
    """Create the schema in an empty database (or, with rebuild, in place of another version); no-op when the
    database is at this version already. Raises SchemaMismatch for another version without rebuild."""
    schema = load_schema()
    version = schema.version
    found = _recorded_versions(conn)
    if found == (version,):
        return Migration(version, "up to date")
    present = found is not None or _any_table_exists(conn, schema.table_names)
    if present and not rebuild:
        raise SchemaMismatch(
            f"this database carries another tasker schema ({_describe(found)}; this engine's is {version[:12]}). "
            "The engine never upgrades a schema in place: migrate an empty database, or run "
            "`tasker migrate --rebuild` to drop the engine's tables, views and functions (every task in them) and "
            "create the current schema."
        )
    with conn.transaction():
        if present:
            _drop_engine_objects(conn, schema)
        for file in schema.files:
            conn.execute(file.text)  # no parameters: sent as it is, several statements allowed
        conn.execute(_VERSION_TABLE)
        conn.execute("INSERT INTO tasker_schema_version (version) VALUES (%s)", (version,))
    return Migration(version, "rebuilt" if present else "created", found or ())


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


def migrate(dsn: str, *, rebuild: bool = False) -> Migration:
    """Create (or keep) the schema and register the bundled templates. Raises SchemaMismatch (see apply_schema)."""
    with connect(dsn) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            migration = apply_schema(conn, rebuild=rebuild)
            for template in load_bundled_templates():
                register_template(conn, template)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return migration
