"""Lifecycle fixtures over the shared migrated databases (tests/conftest.py): connections, listeners, tasks."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql

from tasker.orchestration.lifecycle.task_initializer import TaskRequest, TemplateCache, initialize_task
from tasker.orchestration.orchestrator import Orchestrator
from tasker.worker import Worker

WORKFLOWS = {
    "linear": ("linear_workflow", "mathematical_sequence"),
    "diamond": ("diamond_workflow", "diamond_pattern"),
    "complex_dag": ("complex_workflow", "complex_dag"),
    "tree": ("tree_workflow", "hierarchical_tree"),
}


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
