"""Engine fixtures: a migrated template database built once, cloned per test (CREATE DATABASE ... TEMPLATE)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import psycopg
import pytest

from baseline.services.postgres import EmbeddedPostgres
from tasker.migrate import migrate

_TEMPLATE = "tasker_engine_template"
_counter = itertools.count()


@pytest.fixture(scope="session")
def migrated_template(pg_cluster: EmbeddedPostgres) -> str:
    """Name of a database holding the schema, the SQL functions and the four templates."""
    pg_cluster.drop_database(_TEMPLATE)
    migrate(pg_cluster.create_database(_TEMPLATE))
    return _TEMPLATE


@pytest.fixture(scope="module")
def module_dsn(pg_cluster: EmbeddedPostgres, migrated_template: str) -> Iterator[str]:
    """A migrated database shared by one test module (cloning costs ~0.5 s, so not one per test)."""
    name = f"engine_module_{next(_counter)}"
    dsn = pg_cluster.create_database(name, template=migrated_template)
    try:
        yield dsn
    finally:
        pg_cluster.drop_database(name)


@pytest.fixture
def clean_dsn(module_dsn: str) -> str:
    """The module's database with every task, step and queue message removed (templates kept)."""
    with psycopg.connect(module_dsn, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE tasks, workflow_steps, workflow_step_edges, task_transitions, "
            "workflow_step_transitions, step_queue_messages, orchestration_queue_messages"
        )
    return module_dsn


@pytest.fixture
def engine_dsn(pg_cluster: EmbeddedPostgres, migrated_template: str) -> Iterator[str]:
    """A migrated database of this test's own."""
    name = f"engine_{next(_counter)}"
    dsn = pg_cluster.create_database(name, template=migrated_template)
    try:
        yield dsn
    finally:
        pg_cluster.drop_database(name)
