"""Lifecycle fixtures: a migrated template database built once, cloned per test (CREATE DATABASE ... TEMPLATE)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql

from baseline.services.postgres import EmbeddedPostgres
from tasker.db import connect
from tasker.migrate import migrate
from tasker.orchestration.lifecycle.task_initializer import TaskRequest, TemplateCache, initialize_task
from tasker.orchestration.orchestrator import Orchestrator
from tasker.worker import Worker

_TEMPLATE = "tasker_lifecycle_template"
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
    name = f"lifecycle_module_{next(_counter)}"
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
    name = f"lifecycle_{next(_counter)}"
    dsn = pg_cluster.create_database(name, template=migrated_template)
    try:
        yield dsn
    finally:
        pg_cluster.drop_database(name)


WORKFLOWS = {
    "linear": ("linear_workflow", "mathematical_sequence"),
    "diamond": ("diamond_workflow", "diamond_pattern"),
    "complex_dag": ("complex_workflow", "complex_dag"),
    "tree": ("tree_workflow", "hierarchical_tree"),
}


@pytest.fixture
def conn(clean_dsn: str) -> Iterator[psycopg.Connection]:
    with connect(clean_dsn) as c:
        yield c


@pytest.fixture
def listen(clean_dsn: str) -> Iterator[Callable[[str], psycopg.Connection]]:
    """listen(channel) -> a connection LISTENing on it (closed after the test)."""
    opened: list[psycopg.Connection] = []

    def make(channel: str) -> psycopg.Connection:
        c = psycopg.connect(clean_dsn, autocommit=True)
        c.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.close()


@pytest.fixture
def new_task(conn: psycopg.Connection) -> Callable[..., uuid.UUID]:
    """new_task(key, **context) -> task uuid, created through task_initializer."""
    cache = TemplateCache()

    def make(key: str, **context: object) -> uuid.UUID:
        namespace, name = WORKFLOWS[key]
        request = TaskRequest(namespace, name, "1.0.0", {"even_number": 6, **context})
        return initialize_task(conn, request, cache).task_uuid

    return make


@pytest.fixture
def orchestrator(clean_dsn: str) -> Orchestrator:
    return Orchestrator(clean_dsn)


@pytest.fixture
def worker(clean_dsn: str) -> Worker:
    return Worker(clean_dsn)
