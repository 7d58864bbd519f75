"""The embedded cluster really starts, serves SQL on loopback, clones templates and stops."""

from __future__ import annotations

import os
import stat
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from baseline.redaction import find_secret
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


def test_two_builds_of_a_dataset_plan_with_the_same_statistics(pg_cluster: EmbeddedPostgres) -> None:
    """ANALYZE reads every row, so two builds of one dataset (the two stacks of an A/B) get equal statistics; with
    PostgreSQL's default random sample of 30,000 rows the 2x-larger table below would differ between builds."""
    from baseline.services.embedded import _vacuum_analyze, statistics_target

    rows = 60_000
    stats = []
    for name in ("stats_a", "stats_b"):
        pg_cluster.drop_database(name)
        dsn = pg_cluster.create_database(name)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE t (state text, n int)")
            conn.execute(
                "INSERT INTO t SELECT (ARRAY['a','b','c','d','e','f','g','h','i'])[1 + (i * 7919) %% 8 "
                "+ (i %% 3 = 0)::int], (i::bigint * 104729) %% 50000 FROM generate_series(1, %s) i",
                (rows,),
            )
        assert _vacuum_analyze(dsn) == statistics_target(rows) == 200
        with psycopg.connect(dsn) as conn:
            stats.append(
                conn.execute(
                    "SELECT attname, null_frac, n_distinct, most_common_vals::text, most_common_freqs::text, "
                    "histogram_bounds::text, correlation FROM pg_stats WHERE tablename = 't' ORDER BY attname"
                ).fetchall()
            )
        pg_cluster.drop_database(name)
    assert len(stats[0]) == 2 and stats[0] == stats[1]


def test_the_statistics_target_reads_every_row_within_postgres_limits() -> None:
    from baseline.services.embedded import statistics_target

    assert statistics_target(0) == statistics_target(29_999) == 100  # the default already reads every row
    assert statistics_target(88_932) == 297
    assert statistics_target(10**9) == 10000


def test_only_the_passfile_opens_the_cluster(pg_cluster: EmbeddedPostgres) -> None:
    """scram for every connection; the secret only in the 0600 passfile its DSNs name; the socket its owner's."""
    dsn = pg_cluster.dsn()
    assert find_secret(dsn) is None and "passfile=" in dsn
    assert stat.S_IMODE(pg_cluster.passfile.stat().st_mode) == 0o600
    with psycopg.connect(dsn) as conn:
        rules = conn.execute("SELECT DISTINCT auth_method FROM pg_hba_file_rules").fetchall()
        assert rules == [("scram-sha-256",)]
        assert conn.execute("SHOW unix_socket_permissions").fetchone() == ("0700",)
    without = dsn.split("?")[0]
    for attempt in (without, f"{without}?password=guessed"):
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(attempt, connect_timeout=5, passfile=os.devnull)
    if os.geteuid() == 0:  # another local account: neither the socket nor loopback without the secret
        psql = str(find_bindir() / "psql")
        for host in (str(pg_cluster.workdir), "127.0.0.1"):
            other = subprocess.run(
                [psql, "-h", host, "-p", str(pg_cluster.port), "-U", "postgres", "-w", "-c", "SELECT 1"],
                user="nobody",
                capture_output=True,
                text=True,
                env={"PGPASSFILE": os.devnull, "PATH": "/usr/bin:/bin"},
                cwd="/",
            )
            assert other.returncode != 0 and ("Permission denied" in other.stderr or "password" in other.stderr)


def test_a_cluster_made_before_password_auth_is_made_anew() -> None:
    cluster = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="baseline-test-pg-")))
    with cluster:
        cluster.create_database("old_data")
    cluster.passfile.unlink()  # as a cluster initdb'd with trust had none
    with cluster, psycopg.connect(cluster.dsn()) as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = 'old_data'").fetchone() == (0,)
