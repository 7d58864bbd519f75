"""Embedded services: a private PostgreSQL cluster in `<workdir>/pg` and the target's processes, supervised here.

The cluster keeps a seeded template database built once per (target, scale, seed, schema); every start clones a
fresh run database from it, so each run begins from the same state and the database never grows across runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import socket
import urllib.parse
from typing import Any

import psycopg
from psycopg import sql

from baseline.config import Config
from baseline.console import say
from baseline.procfs import pid_alive, process_start_time
from baseline.results import StoreError, read_json
from baseline.services.model import Stack, StackError
from baseline.services.postgres import EmbeddedPostgres, PostgresServer, free_port
from baseline.services.processes import Supervisor, install_signal_handlers, terminate_pids
from baseline.store import write_json_atomic
from baseline.targets.contract import Target

# ---------------------------------------------------------------------------------------------- naming (pure)


def _ident(text: str, limit: int) -> str:
    safe = re.sub(r"[^a-z0-9_]", "_", text.lower())
    if len(safe) <= limit:
        return safe
    return f"{safe[: limit - 9]}_{hashlib.sha256(text.encode()).hexdigest()[:8]}"


#: How a template is built besides its schema, dataset and seed; a change here rebuilds every template.
TEMPLATE_RECIPE = "analyze-every-row"


def template_name(target: str, scale: int, seed: int, schema_hash: str) -> str:
    """tpl_<target>_<scale>_<seed>_<hash of the schema and the recipe>."""
    digest = hashlib.sha256(f"{schema_hash}\0{TEMPLATE_RECIPE}".encode()).hexdigest()
    return f"tpl_{_ident(target, 16)}_{scale}_{seed}_{digest[:8]}"


def run_database_name(label: str, run: int) -> str:
    """run_<label>_<run>, fitted into PostgreSQL's 63-byte identifier limit."""
    return f"run_{_ident(label, 63 - 4 - 1 - len(str(run)))}_{run}"


def with_database(dsn: str, dbname: str) -> str:
    """Same server, user and options (its passfile), another database (URL DSNs from the embedded cluster)."""
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(dsn)._replace(path=f"/{dbname}"))


# ---------------------------------------------------------------------------------------------- cluster


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as PostgreSQL does: TIME_WAIT is no obstacle
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_of(config: Config, port: int | None = None) -> EmbeddedPostgres:
    """The work dir's cluster: on its running port, else the preferred one when free, else a free port."""
    cluster = EmbeddedPostgres(config.workdir / "pg", port=port if port and _port_is_free(port) else 0)
    pidfile = cluster.datadir / "postmaster.pid"
    if cluster.running() and pidfile.exists():
        lines = pidfile.read_text().splitlines()
        if len(lines) > 3 and lines[3].strip().isdigit():
            cluster.port = int(lines[3])  # an already-running cluster keeps the port it was started on
    return cluster


def has_cluster(config: Config) -> bool:
    return (config.workdir / "pg" / "data" / "PG_VERSION").exists()


def _database_exists(admin_dsn: str, name: str) -> bool:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


#: ANALYZE samples 300 rows per unit of statistics target; PostgreSQL's ceiling for the target.
ROWS_PER_STATISTICS_TARGET, MAX_STATISTICS_TARGET, DEFAULT_STATISTICS_TARGET = 300, 10000, 100


def statistics_target(largest_table_rows: float) -> int:
    """The statistics target at which ANALYZE reads every row of the largest table (never below the default).

    ANALYZE otherwise draws a random sample, which differs between two builds of the same dataset: the two stacks of
    an A/B would plan with different statistics, and an A/A comparison would find a difference of its own."""
    needed = math.ceil(largest_table_rows / ROWS_PER_STATISTICS_TARGET)
    return max(DEFAULT_STATISTICS_TARGET, min(MAX_STATISTICS_TARGET, needed))


def _vacuum_analyze(dsn: str) -> int:
    """VACUUM, then ANALYZE from every row (see statistics_target); the target used."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM")
        row = conn.execute(
            "SELECT coalesce(max(reltuples), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchone()
        target = statistics_target(float(row[0]) if row else 0.0)
        conn.execute(sql.SQL("SET default_statistics_target = {}").format(sql.Literal(target)))
        conn.execute("ANALYZE")
    return target


def ensure_template(
    config: Config, cluster: EmbeddedPostgres | PostgresServer, target: Target
) -> tuple[str, dict[str, Any]]:
    """The seeded template database, built once (migrate + dataset + VACUUM ANALYZE) under a temporary name
    and renamed when complete, so an interrupted build is never mistaken for a finished one."""
    name = template_name(config.target, config.dataset_scale, config.dataset_seed, target.schema_fingerprint())
    admin = cluster.dsn()
    info_path = config.workdir / "templates" / f"{name}.json"
    if _database_exists(admin, name):
        try:
            info = read_json(info_path)
        except StoreError:
            info = {}
        return name, info if isinstance(info, dict) else {}
    building = f"{name}_build"
    say(f"building template database {name} (scale {config.dataset_scale}, seed {config.dataset_seed})")
    cluster.drop_database(building)
    dsn = cluster.create_database(building)
    target.migrate(dsn)
    counts = target.load_dataset(dsn, config.dataset_scale, config.dataset_seed)
    statistics = _vacuum_analyze(dsn)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(building), sql.Identifier(name)))
        conn.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE true").format(sql.Identifier(name)))
    info = {
        "template": name,
        "scale": config.dataset_scale,
        "seed": config.dataset_seed,
        "counts": counts,
        "statistics_target": statistics,
    }
    write_json_atomic(info_path, info)
    drop_stale_templates(admin, name)
    return name, info


def drop_stale_templates(admin_dsn: str, current: str) -> None:
    """Templates of the same target/scale/seed built from an older schema are never used again: drop them."""
    prefix = current.rsplit("_", 1)[0] + "_"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s) AND datname <> %s", (prefix, current)
        ).fetchall()
        for (stale,) in rows:
            conn.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(sql.Identifier(stale)))
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(stale)))


def fresh_run_database(config: Config, cluster: EmbeddedPostgres | PostgresServer, template: str) -> tuple[str, str]:
    """Drop and re-clone run_<label>_<run> from the template and CHECKPOINT the cluster. The clone keeps the
    template's statistics (pg_statistic is copied with it): analysing it again would draw new random samples."""
    name = run_database_name(config.label, config.run)
    cluster.drop_database(name)
    dsn = cluster.create_database(name, template=template)
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    return name, dsn


# ---------------------------------------------------------------------------------------------- provider


class EmbeddedRunning:
    """The cluster and the supervised processes of one stack this process started."""

    def __init__(self, stack: Stack, supervisor: Supervisor, cluster: EmbeddedPostgres) -> None:
        self.stack, self.supervisor, self.cluster = stack, supervisor, cluster

    def check_alive(self) -> None:
        self.supervisor.check_alive()

    def stop(self) -> None:
        self.supervisor.stop()
        with contextlib.suppress(psycopg.Error):
            self.cluster.drop_database(self.stack.database)
        self.cluster.stop()

    def detach(self) -> None:
        self.supervisor.detach()


class EmbeddedProvider:
    kind = "embedded"

    def start(self, config: Config, target: Target, *, port: int | None = None) -> EmbeddedRunning:
        """Cluster + template + fresh run database + the target's processes, all healthy."""
        install_signal_handlers()
        cluster = cluster_of(config, port)
        supervisor = Supervisor(config.workdir / "logs", cwd=config.project_root)
        try:
            try:
                cluster.start()
            except RuntimeError as exc:
                raise StackError(f"embedded PostgreSQL did not start in {cluster.workdir}: {exc}") from None
            template, info = ensure_template(config, cluster, target)
            database, dsn = fresh_run_database(config, cluster, template)
            api_port = free_port()
            roles = target.process_roles(dsn, api_port, config.workers, config.worker_concurrency)
            supervisor.start(roles)
            supervisor.wait_healthy(timeout_s=60)
        except BaseException:
            supervisor.stop()
            cluster.stop()
            raise
        pids = {"postgres": cluster.pid() or 0, **supervisor.pids}
        stack = Stack(
            services=self.kind,
            target=config.target,
            dsn=dsn,
            admin_dsn=cluster.dsn(),
            api_url=f"http://127.0.0.1:{api_port}" if any(role.health_url for role in roles) else None,
            database=database,
            pids=pids,
            start_times={role: process_start_time(pid) for role, pid in pids.items()},
            template=template,
            port=cluster.port,
            dataset=info.get("counts", {}) if isinstance(info, dict) else {},
            label=config.label,
            run=config.run,
            dataset_scale=config.dataset_scale,
            dataset_seed=config.dataset_seed,
            logs_dir=str(supervisor.log_dir),
        )
        return EmbeddedRunning(stack, supervisor, cluster)

    def stop_recorded(self, config: Config, stack: Stack | None) -> bool:
        """Stop the recorded processes, drop the run database, stop the cluster; True if anything ran."""
        stopped = False
        if stack is not None:
            roles = stack.service_pids()
            stopped = any(pid_alive(pid, stack.start_times.get(role)) for role, pid in roles.items())
            terminate_pids(roles, start_times=stack.start_times)
        if has_cluster(config):
            cluster = cluster_of(config)
            if cluster.running():
                stopped = True
                if stack is not None:
                    with contextlib.suppress(psycopg.Error):
                        cluster.drop_database(stack.database)
                cluster.stop()
        return stopped
