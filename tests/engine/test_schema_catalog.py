"""The current-state SQL builds the same database as the ten old migrations did: same functions (definitions and
settings), tables, columns with types and defaults, constraints, indexes, views, sequences and triggers, but for the
view renames listed in RENAMES. And the SQL files keep their layout: one object per file, named after it."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

import tasker.sql
from tasker.migrate import load_schema, migrate

pytestmark = pytest.mark.integration

SQL_DIR = Path(tasker.sql.__file__).parent

#: The only differences allowed: views renamed by purpose (old name -> new name), in every name and definition.
RENAMES = {
    "tasker_step_readiness": "tasker_readiness_report",
    "tasker_step_ready": "tasker_readiness_flags",
    "tasker_ready_steps": "tasker_ready_step_keys",
}

#: Objects the current schema gained after the old migrations (issue 19: the processes' heartbeats): new, so compared
#: with nothing; every key of theirs (columns, constraints, indexes) starts with the name.
ADDED = ("tasker_processes",)

_PUBLIC = "'public'::regnamespace"
CATALOG_QUERIES = {
    "functions": f"""
        SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid) FROM pg_proc p WHERE p.pronamespace = {_PUBLIC}""",
    "function settings": f"""
        SELECT p.oid::regprocedure::text, coalesce(array_to_string(p.proconfig, ', '), '')
        FROM pg_proc p WHERE p.pronamespace = {_PUBLIC}""",
    "relations": f"""
        SELECT c.relname, concat_ws(' ', c.relkind, c.relpersistence, c.reloptions::text)
        FROM pg_class c WHERE c.relnamespace = {_PUBLIC}""",
    "columns": f"""
        SELECT c.relname || '.' || a.attname,
               concat_ws(' | ', a.attnum, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                         pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated, a.attcollation::regcollation)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid AND c.relnamespace = {_PUBLIC} AND c.relkind IN ('r', 'v', 'm', 'p')
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attnum > 0 AND NOT a.attisdropped""",
    "constraints": f"""
        SELECT c.relname || '.' || con.conname, concat_ws(' ', con.contype, pg_get_constraintdef(con.oid))
        FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid WHERE con.connamespace = {_PUBLIC}""",
    "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
    "views": f"""
        SELECT c.relname, pg_get_viewdef(c.oid, true) FROM pg_class c
        WHERE c.relnamespace = {_PUBLIC} AND c.relkind IN ('v', 'm')""",
    # Internal (foreign-key) triggers carry an oid in their names: keyed by table, constraint and function instead.
    "triggers": f"""
        SELECT concat_ws(' ', c.relname, coalesce(con.conname, t.tgname), t.tgfoid::regproc, t.tgtype),
               CASE WHEN t.tgisinternal THEN concat_ws(' ', 'internal', t.tgenabled) ELSE pg_get_triggerdef(t.oid) END
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid AND c.relnamespace = {_PUBLIC}
        LEFT JOIN pg_constraint con ON con.oid = t.tgconstraint""",
    "sequences": f"""
        SELECT s.seqrelid::regclass::text,
               concat_ws(' ', format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
                         s.seqcache, s.seqcycle, owner.refobjid::regclass || '.' || a.attname)
        FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid AND c.relnamespace = {_PUBLIC}
        LEFT JOIN pg_depend owner ON owner.classid = 'pg_class'::regclass AND owner.objid = s.seqrelid
             AND owner.deptype = 'a'
        LEFT JOIN pg_attribute a ON a.attrelid = owner.refobjid AND a.attnum = owner.refobjsubid""",
    "extensions": "SELECT extname, extversion FROM pg_extension",
}


def catalog(dsn: str) -> dict[str, dict[str, str]]:
    """{kind: {object key: definition}} of the public schema."""
    out: dict[str, dict[str, str]] = {}
    with psycopg.connect(dsn) as conn:
        for kind, query in CATALOG_QUERIES.items():
            rows = conn.execute(query).fetchall()
            keys = [key for key, _ in rows]
            assert len(keys) == len(set(keys)), f"{kind}: keys are not unique"
            out[kind] = dict(rows)
    return out


def renamed(text: str) -> str:
    return re.sub(r"\b(" + "|".join(RENAMES) + r")\b", lambda m: RENAMES[m[1]], text)


def test_new_schema_matches_the_old_migrations(
    make_database: Callable[[], str], apply_old_migrations: Callable[[str], list[str]]
) -> None:
    old_dsn, new_dsn = make_database(), make_database()
    assert len(apply_old_migrations(old_dsn)) == 10
    migrate(new_dsn)
    old, new = catalog(old_dsn), catalog(new_dsn)

    # The map is not vacuous: each old name was there and is gone; each new name is there.
    for before, after in RENAMES.items():
        assert before in old["views"] and after not in old["views"]
        assert after in new["views"] and before not in new["views"]
    # Meaningful categories: the comparison below would pass on two empty catalogs otherwise.
    assert len(new["functions"]) == 12 and len(new["views"]) == 3 and len(new["indexes"]) > 15
    assert new["function settings"]["get_next_ready_tasks(integer)"].endswith("jit=off")
    for added in ADDED:
        assert added in new["relations"] and added not in old["relations"]
    new = {kind: {k: v for k, v in objects.items() if not k.startswith(ADDED)} for kind, objects in new.items()}

    differences: dict[str, list[str]] = {}
    details: list[str] = []
    for kind in CATALOG_QUERIES:
        expected = {renamed(k): renamed(v) for k, v in old[kind].items()}
        got = new[kind]
        differ = sorted(k for k in expected.keys() | got.keys() if expected.get(k) != got.get(k))
        if differ:
            differences[kind] = differ
        for key in differ:
            diff = difflib.unified_diff(
                (expected.get(key) or "").splitlines(), (got.get(key) or "").splitlines(), "old", "new", lineterm=""
            )
            details.append(f"{kind} {key}:\n" + "\n".join(diff))
    assert differences == {}, "\n".join(details)


def test_rebuild_leaves_nothing_of_the_old_schema(
    make_database: Callable[[], str], apply_old_migrations: Callable[[str], list[str]]
) -> None:
    """`tasker migrate --rebuild` over a database of the old migrations gives exactly a fresh database's catalog."""
    rebuilt, fresh = make_database(), make_database()
    apply_old_migrations(rebuilt)
    assert migrate(rebuilt, rebuild=True).action == "rebuilt"
    migrate(fresh)
    assert catalog(rebuilt) == catalog(fresh)


# ------------------------------------------------------------------------------------- layout of the SQL files

CREATES = re.compile(r"^CREATE (?:OR REPLACE )?(TABLE|VIEW|FUNCTION|INDEX|UNIQUE INDEX) (\w+)", re.MULTILINE)


def test_each_view_and_function_file_defines_the_object_it_is_named_after() -> None:
    schema = load_schema()
    for file in (*schema.functions, *schema.views):
        kind = "FUNCTION" if file.path.startswith("functions/") else "VIEW"
        assert [(k, name) for k, name in CREATES.findall(file.text)] == [(kind, file.defines)], file.path
    assert {kind for kind, _ in CREATES.findall(schema.tables.text)} == {"TABLE", "INDEX", "UNIQUE INDEX"}
    on_disk = sorted(p.relative_to(SQL_DIR).as_posix() for p in SQL_DIR.rglob("*.sql"))
    assert on_disk == sorted(f.path for f in schema.files), "every SQL file is applied, and only those"


def test_current_state_only() -> None:
    """No file alters or drops what another one made: each object is stated once, in its final form."""
    texts = {f.path: f.text for f in load_schema().files}
    for path, text in texts.items():
        code = re.sub(r"--.*", "", text)
        assert not re.search(r"\b(ALTER|DROP)\s+(TABLE|FUNCTION|VIEW|INDEX)\b", code, re.IGNORECASE), path
    definitions = sum(t.count("CREATE OR REPLACE FUNCTION get_next_ready_tasks") for t in texts.values())
    assert definitions == 1


def test_schema_version_is_the_hash_of_the_files_in_order() -> None:
    schema = load_schema()
    assert re.fullmatch(r"[0-9a-f]{64}", schema.version)
    assert schema.version == load_schema().version
    assert [f.path for f in schema.files][: len(schema.functions) + 1][-1] == "schema.sql"
