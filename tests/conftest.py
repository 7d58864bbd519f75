"""Shared fixtures: one private PostgreSQL cluster per test session, fresh databases per test."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from baseline.services.postgres import EmbeddedPostgres

_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[EmbeddedPostgres]:
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
def fresh_dsn(pg_cluster: EmbeddedPostgres) -> Iterator[str]:
    """An empty database of its own for one test."""
    name = f"test_{next(_counter)}"
    dsn = pg_cluster.create_database(name)
    try:
        yield dsn
    finally:
        pg_cluster.drop_database(name)
