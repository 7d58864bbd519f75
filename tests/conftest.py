"""Shared fixtures: one private PostgreSQL cluster per test session, fresh databases per test, and databases
migrated by the engine (a template built once, cloned with CREATE DATABASE ... TEMPLATE)."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from baseline.services.postgres import EmbeddedPostgres, PostgresServer
from tasker.db import API_CONNECTION, connect
from tasker.migrate import migrate
from tasker.orchestration.lifecycle.task_initializer import (
    InitializedTask,
    TaskRequest,
    TemplateCache,
    initialize_task_async,
)

_counter = itertools.count()
# Where this machine keeps its tools; every other BASELINE_* variable is a run setting that must not leak in.
_MACHINE_SETTINGS = {"BASELINE_PG_BINDIR", "BASELINE_PY_SPY", "BASELINE_NOX_VENV"}


@pytest.fixture(autouse=True)
def _no_run_settings_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests set what they need: a BASELINE_OUTPUT_DIR exported in the developer's shell must not redirect them."""
    for name in [n for n in os.environ if n.startswith("BASELINE_") and n not in _MACHINE_SETTINGS]:
        monkeypatch.delenv(name)


def _positive_factor(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text}: give a factor above 0, e.g. 0.25")
    return value


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--lifecycle-scale",
        type=_positive_factor,
        default=1.0,
        help="factor on the lifecycle tests' repetitions (they repeat to give lifecycle profiles mass); "
        "quick lifecycle profiles use 0.25",
    )


@pytest.fixture
def repeat(request: pytest.FixtureRequest) -> Callable[[int], int]:
    """repeat(n) -> n scaled by --lifecycle-scale, at least 1."""
    scale: float = request.config.getoption("--lifecycle-scale")
    return lambda n: max(1, round(n * scale))


#: A running server to create the test databases in instead of starting a private cluster (lifecycle profiling
#: points it at the run's own embedded server: no cluster start-up inside the profile). Superuser DSN.
TEST_SERVER_ENV = "TASKER_TEST_ADMIN_DSN"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[EmbeddedPostgres | PostgresServer]:
    if os.environ.get(TEST_SERVER_ENV):
        yield PostgresServer(os.environ[TEST_SERVER_ENV])
        return
    # Not tmp_path_factory: its root is 0700, which the unprivileged server account cannot enter under root.
    workdir = Path(tempfile.mkdtemp(prefix="baseline-test-pg-"))
    cluster = EmbeddedPostgres(workdir)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def fresh_dsn(pg_cluster: EmbeddedPostgres | PostgresServer) -> Iterator[str]:
    """An empty database of its own for one test."""
    name = f"test_{os.getpid()}_{next(_counter)}"
    dsn = pg_cluster.create_database(name)
    try:
        yield dsn
    finally:
        pg_cluster.drop_database(name)


@pytest.fixture(scope="session")
def migrated_template(pg_cluster: EmbeddedPostgres | PostgresServer) -> str:
    """Name of a database holding the engine's schema, SQL functions and the four templates."""
    name = "tasker_test_template"
    pg_cluster.drop_database(name)
    migrate(pg_cluster.create_database(name))
    return name


def _migrated_copy(pg_cluster: EmbeddedPostgres | PostgresServer, template: str, prefix: str) -> Iterator[str]:
    """A clone of the migrated template, dropped when the fixture ends."""
    name = f"{prefix}_{os.getpid()}_{next(_counter)}"  # a killed earlier run may have left prefix_N on a shared server
    dsn = pg_cluster.create_database(name, template=template)
    try:
        yield dsn
    finally:
        pg_cluster.drop_database(name)


@pytest.fixture(scope="module")
def module_dsn(pg_cluster: EmbeddedPostgres | PostgresServer, migrated_template: str) -> Iterator[str]:
    """A migrated database shared by one test module (cloning costs ~0.5 s, so not one per test)."""
    yield from _migrated_copy(pg_cluster, migrated_template, "module")


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
def engine_dsn(pg_cluster: EmbeddedPostgres | PostgresServer, migrated_template: str) -> Iterator[str]:
    """A migrated database of this test's own."""
    yield from _migrated_copy(pg_cluster, migrated_template, "engine")


@pytest.fixture
def conn(clean_dsn: str) -> Iterator[psycopg.Connection]:
    """An engine connection (the engine's session settings) to the module's emptied database."""
    with connect(clean_dsn) as c:
        yield c


@pytest.fixture
def create_task() -> Iterator[Callable[..., InitializedTask]]:
    """create_task(dsn, namespace, name, context, **request fields) -> the task, created by the API's own code:
    task_initializer.initialize_task_async on an asyncio connection with the API's settings (one per database,
    kept for the test, with one template cache each, as in an API process)."""
    runner = asyncio.Runner()
    sessions: dict[str, tuple[psycopg.AsyncConnection, TemplateCache]] = {}

    async def create_async(dsn: str, request: TaskRequest) -> InitializedTask:
        if dsn not in sessions:
            sessions[dsn] = (await psycopg.AsyncConnection.connect(dsn, **API_CONNECTION), TemplateCache())
        conn, cache = sessions[dsn]
        return await initialize_task_async(conn, request, cache)

    def create(dsn: str, namespace: str, name: str, context: dict[str, Any], **fields: Any) -> InitializedTask:
        fields.setdefault("version", "1.0.0")
        request = TaskRequest(namespace=namespace, name=name, context=context, **fields)
        return runner.run(create_async(dsn, request))

    yield create
    for conn, _ in sessions.values():
        runner.run(conn.close())
    runner.close()
