"""The embedded cluster really starts, serves SQL on loopback, clones templates and stops."""

from __future__ import annotations

import tempfile
from pathlib import Path

import psycopg
import pytest

from baseline.services.postgres import EmbeddedPostgres, find_bindir

pytestmark = pytest.mark.integration


def test_cluster_serves_sql(pg_cluster: EmbeddedPostgres) -> None:
    with psycopg.connect(pg_cluster.dsn()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)


def test_template_clone_is_independent(pg_cluster: EmbeddedPostgres) -> None:
    pg_cluster.create_database("tpl_src")
    with psycopg.connect(pg_cluster.dsn("tpl_src"), autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1), (2)")
    pg_cluster.create_database("tpl_clone", template="tpl_src")
    with psycopg.connect(pg_cluster.dsn("tpl_clone"), autocommit=True) as conn:
        conn.execute("INSERT INTO t VALUES (3)")
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (3,)
    with psycopg.connect(pg_cluster.dsn("tpl_src")) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (2,)
    pg_cluster.drop_database("tpl_clone")
    pg_cluster.drop_database("tpl_src")


def test_stop_then_restart_keeps_data() -> None:
    cluster = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="baseline-test-pg-")))
    with cluster:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (x int)")
        pid = cluster.pid()
        assert pid is not None
    assert not cluster.running()
    with cluster, psycopg.connect(cluster.dsn()) as conn:
        assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,)


def test_find_bindir_honours_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = find_bindir()
    monkeypatch.setenv("BASELINE_PG_BINDIR", str(real))
    assert find_bindir() == real
