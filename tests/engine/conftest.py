"""Engine test fixtures: extra databases, and databases built by the old migrations."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from baseline.services.postgres import EmbeddedPostgres, PostgresServer

#: The ten append-only migrations the current-state SQL replaced, as of 7276b09 (git show 7276b09:src/tasker/sql/...).
OLD_MIGRATIONS = Path(__file__).parent / "fixtures" / "migrations_7276b09"

_counter = itertools.count()


@pytest.fixture
def make_database(pg_cluster: EmbeddedPostgres | PostgresServer) -> Iterator[Callable[[], str]]:
    """make_database() -> the DSN of another empty database, dropped when the test ends."""
    made: list[str] = []

    def make() -> str:
        name = f"engine_extra_{next(_counter)}"
        made.append(name)
        return pg_cluster.create_database(name)

    yield make
    for name in made:
        pg_cluster.drop_database(name)


def _apply_old_migrations(dsn: str) -> list[str]:
    """What `tasker migrate` did at 7276b09: each file once, in name order, in its own transaction, recorded in
    tasker_schema_version. Returns the versions (file names without .sql)."""
    versions = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS tasker_schema_version ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for path in sorted(OLD_MIGRATIONS.glob("*.sql")):
            with conn.transaction():
                conn.execute(path.read_text())
                conn.execute("INSERT INTO tasker_schema_version (version) VALUES (%s)", (path.stem,))
            versions.append(path.stem)
    return versions


@pytest.fixture
def apply_old_migrations() -> Callable[[str], list[str]]:
    """apply_old_migrations(dsn) -> versions: the schema as the ten old migrations built it."""
    return _apply_old_migrations
