"""The running system under test as one `Stack`, whichever way it was provided (embedded, external, compose).

Embedded stacks keep one PostgreSQL cluster in `<workdir>/pg`, a seeded template database built once per
(target, scale, seed, schema) and a run database cloned from it on every start, so each run begins from the
same state and the database never grows across runs. `up` leaves the stack running and records it in
`<workdir>/state.json`; `ensure_stack` reuses a live recorded stack or starts (and later stops) its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests
from psycopg import sql

from baseline import pidlock
from baseline.config import Config, redact_dsn
from baseline.services.postgres import EmbeddedPostgres, PostgresNotFound, free_port
from baseline.services.processes import (
    ProcessFailed,
    Supervisor,
    install_signal_handlers,
    pid_alive,
    process_start_time,
    terminate_pids,
)
from baseline.store import StoreError, read_json, write_json_atomic
from baseline.targets import get_target

STATE_VERSION = 1


class StackError(RuntimeError):
    """The services could not be started, reached or stopped; the message says what to do."""


@dataclass
class Stack:
    dsn: str
    admin_dsn: str
    api_url: str
    pids: dict[str, int]
    target: str
    services: str
    database: str
    started_by_us: bool
    start_times: dict[str, int | None] = field(default_factory=dict)
    template: str | None = None
    port: int | None = None
    dataset: dict[str, Any] = field(default_factory=dict)
    label: str | None = None
    run: int | None = None
    dataset_scale: int | None = None
    dataset_seed: int | None = None
    logs_dir: str | None = None

    def to_state(self) -> dict[str, Any]:
        data = asdict(self)
        data["state_version"] = STATE_VERSION
        data.pop("started_by_us")
        return data

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Stack:
        known = {f for f in cls.__dataclass_fields__ if f != "started_by_us"}
        return cls(started_by_us=False, **{k: v for k, v in data.items() if k in known})


# ---------------------------------------------------------------------------------------------- naming (pure)


def _ident(text: str, limit: int) -> str:
    safe = re.sub(r"[^a-z0-9_]", "_", text.lower())
    if len(safe) <= limit:
        return safe
    return f"{safe[: limit - 9]}_{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def template_name(target: str, scale: int, seed: int, schema_hash: str) -> str:
    return f"tpl_{_ident(target, 16)}_{scale}_{seed}_{schema_hash[:8]}"


def run_database_name(label: str, run: int) -> str:
    """run_<label>_<run>, fitted into PostgreSQL's 63-byte identifier limit."""
    return f"run_{_ident(label, 63 - 4 - 1 - len(str(run)))}_{run}"


def with_database(dsn: str, dbname: str) -> str:
    """Same server and user, another database (URL DSNs from the embedded cluster)."""
    base, _, _ = dsn.rpartition("/")
    return f"{base}/{dbname}"


# ---------------------------------------------------------------------------------------------- state file


def state_path(config: Config) -> Path:
    return config.workdir / "state.json"


def read_state(config: Config) -> Stack | None:
    path = state_path(config)
    if not path.exists():
        return None
    try:
        data = read_json(path)
        return Stack.from_state(data) if isinstance(data, dict) else None
    except (StoreError, TypeError):
        return None


def write_state(config: Config, stack: Stack) -> Path:
    return write_json_atomic(state_path(config), stack.to_state())


def stack_health(stack: Stack) -> dict[str, Any]:
    """Per-role liveness plus API and database answers, for `status` and reuse decisions."""
    roles = {role: pid_alive(pid, stack.start_times.get(role)) for role, pid in stack.pids.items()}
    try:
        api_ok = requests.get(f"{stack.api_url}/health", timeout=2).ok
    except requests.RequestException:
        api_ok = False
    try:
        with psycopg.connect(stack.dsn, connect_timeout=3) as conn:
            db_ok = conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error:
        db_ok = False
    return {"roles": roles, "api": api_ok, "database": db_ok, "healthy": all(roles.values()) and api_ok and db_ok}


# ---------------------------------------------------------------------------------------------- embedded


def _port_is_free(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as PostgreSQL does: TIME_WAIT is no obstacle
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cluster(config: Config, port: int | None = None) -> EmbeddedPostgres:
    """The work dir's cluster: on its running port, else the preferred one when free, else a free port."""
    try:
        cluster = EmbeddedPostgres(config.workdir / "pg", port=port if port and _port_is_free(port) else 0)
    except PostgresNotFound as exc:
        raise StackError(str(exc)) from None
    pidfile = cluster.datadir / "postmaster.pid"
    if cluster.running() and pidfile.exists():
        lines = pidfile.read_text().splitlines()
        if len(lines) > 3 and lines[3].strip().isdigit():
            cluster.port = int(lines[3])  # an already-running cluster keeps the port it was started on
    return cluster


def _database_exists(admin_dsn: str, name: str) -> bool:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def _vacuum_analyze(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def _say(message: str) -> None:
    print(f"[baseline] {message}", file=sys.stderr, flush=True)


def ensure_template(config: Config, cluster: EmbeddedPostgres) -> tuple[str, dict[str, Any]]:
    """The seeded template database, built once (migrate + dataset + VACUUM ANALYZE) under a temporary name
    and renamed when complete, so an interrupted build is never mistaken for a finished one."""
    target = get_target(config.target)
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
    _say(f"building template database {name} (scale {config.dataset_scale}, seed {config.dataset_seed})")
    cluster.drop_database(building)
    dsn = cluster.create_database(building)
    target.migrate(dsn)
    counts = target.load_dataset(dsn, config.dataset_scale, config.dataset_seed)
    _vacuum_analyze(dsn)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(building), sql.Identifier(name)))
        conn.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE true").format(sql.Identifier(name)))
    info = {"template": name, "scale": config.dataset_scale, "seed": config.dataset_seed, "counts": counts}
    write_json_atomic(info_path, info)
    _drop_stale_templates(admin, name)
    return name, info


def _drop_stale_templates(admin_dsn: str, current: str) -> None:
    """Templates of the same target/scale/seed built from an older schema are never used again: drop them."""
    prefix = current.rsplit("_", 1)[0] + "_"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s) AND datname <> %s", (prefix, current)
        ).fetchall()
        for (stale,) in rows:
            conn.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(sql.Identifier(stale)))
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(stale)))


def fresh_run_database(config: Config, cluster: EmbeddedPostgres, template: str) -> tuple[str, str]:
    """Drop and re-clone run_<label>_<run> from the template, VACUUM ANALYZE it, CHECKPOINT the cluster."""
    name = run_database_name(config.label, config.run)
    cluster.drop_database(name)
    dsn = cluster.create_database(name, template=template)
    _vacuum_analyze(dsn)
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    return name, dsn


def start_embedded(config: Config, port: int | None = None) -> tuple[Stack, Supervisor, EmbeddedPostgres]:
    """Cluster + template + fresh run DB + engine processes, all healthy; the caller owns stopping them.
    `port`: preferred cluster port (the previous stack's, so DSNs stay stable across runs)."""
    install_signal_handlers()
    cluster = _cluster(config, port)
    supervisor = Supervisor(config.workdir / "logs", cwd=config.project_root)
    try:
        try:
            cluster.start()
        except RuntimeError as exc:  # PostgresNotFound included: its message says how to install the binaries
            raise StackError(f"embedded PostgreSQL did not start in {cluster.workdir}: {exc}") from None
        template, info = ensure_template(config, cluster)
        database, dsn = fresh_run_database(config, cluster, template)
        target = get_target(config.target)
        api_port = free_port()
        roles = target.process_roles(dsn, api_port, config.workers, config.worker_concurrency)
        supervisor.start(roles)
        supervisor.wait_healthy(timeout_s=60)
    except BaseException:
        supervisor.stop()
        cluster.stop()
        raise
    pids = {"postgres": cluster.pid() or 0, **supervisor.pids}
    start_times = {role: process_start_time(pid) for role, pid in pids.items()}
    stack = Stack(
        dsn=dsn,
        admin_dsn=cluster.dsn(),
        api_url=f"http://127.0.0.1:{api_port}",
        pids=pids,
        target=config.target,
        services="embedded",
        database=database,
        started_by_us=True,
        start_times=start_times,
        template=template,
        port=cluster.port,
        dataset=info.get("counts", {}) if isinstance(info, dict) else {},
        label=config.label,
        run=config.run,
        dataset_scale=config.dataset_scale,
        dataset_seed=config.dataset_seed,
        logs_dir=str(supervisor.log_dir),
    )
    return stack, supervisor, cluster


def _has_cluster(config: Config) -> bool:
    return (config.workdir / "pg" / "data" / "PG_VERSION").exists()


def _stop_embedded(config: Config, stack: Stack | None, *, drop_run_db: bool = True) -> bool:
    """Stop the recorded engine processes, drop the run database, stop the cluster; True if anything ran."""
    stopped = False
    if stack is not None:
        roles = {role: pid for role, pid in stack.pids.items() if role != "postgres"}
        stopped = any(pid_alive(pid, stack.start_times.get(role)) for role, pid in roles.items())
        terminate_pids(roles, start_times=stack.start_times)
    if _has_cluster(config):
        cluster = _cluster(config)
        if cluster.running():
            stopped = True
            if stack is not None and drop_run_db:
                with contextlib.suppress(psycopg.Error):
                    cluster.drop_database(stack.database)
            cluster.stop()
    return stopped


# ---------------------------------------------------------------------------------------------- workdir lock

_workdir_locks: dict[str, int] = {}  # lock path -> depth held by this process (re-entrant)


@contextlib.contextmanager
def workdir_lock(config: Config) -> Iterator[None]:
    """One process at a time starts, owns or stops the services of a work dir; others fail with who holds it."""
    config.workdir.mkdir(parents=True, exist_ok=True)
    path = config.workdir / ".stack.lock"
    key = str(path)
    if key in _workdir_locks:
        _workdir_locks[key] += 1
        try:
            yield
        finally:
            _workdir_locks[key] -= 1
        return
    fd = pidlock.acquire(path)
    if fd is None:
        raise StackError(
            f"the services in {config.workdir} are being started, used or stopped by another harness process "
            f"(pid {pidlock.holder(path) or 'unknown'}); wait for it, or run `nox -s up` first so several commands "
            f"can share one stack"
        )
    _workdir_locks[key] = 1
    try:
        yield
    finally:
        del _workdir_locks[key]
        pidlock.release(fd)


# ---------------------------------------------------------------------------------------------- public API


def _warn_if_mismatched(config: Config, stack: Stack) -> None:
    wanted = (config.target, config.dataset_scale, config.dataset_seed)
    have = (stack.target, stack.dataset_scale, stack.dataset_seed)
    if stack.services == "embedded" and wanted != have:
        _say(
            f"reusing the running stack (target/scale/seed {have}) although this command asks for {wanted}; "
            "run `nox -s down` first to get a matching one"
        )


@contextlib.contextmanager
def ensure_stack(config: Config) -> Iterator[Stack]:
    """Yield a healthy stack: the recorded one if live (left running), else one started here and stopped on
    exit, on exceptions and on SIGINT/SIGTERM."""
    install_signal_handlers()
    recorded = read_state(config)
    if recorded is not None and recorded.services == "external":
        recorded = None  # recorded without its password: the live DSN always comes from the config
    if recorded is not None and stack_health(recorded)["healthy"]:
        _warn_if_mismatched(config, recorded)
        yield recorded
        return
    if config.services == "external":
        from baseline.services.external import external_stack

        yield external_stack(config)
        return
    if config.services == "compose":
        from baseline.services.compose import compose_stack

        with compose_stack(config) as stack:
            yield stack
        return
    with workdir_lock(config):  # held while this process owns the stack it starts
        if recorded is not None:
            _say("the recorded stack is not healthy any more; stopping its leftovers and starting a fresh one")
            down(config)
        stack, supervisor, cluster = start_embedded(config)
        try:
            yield stack
            supervisor.check_alive()
        finally:
            supervisor.stop()
            with contextlib.suppress(psycopg.Error):
                cluster.drop_database(stack.database)
            cluster.stop()


def up(config: Config) -> Stack:
    """Start a fresh stack (replacing any recorded one), record it in the state file and leave it running."""
    with workdir_lock(config):
        return _up(config)


def _up(config: Config) -> Stack:
    previous = read_state(config)
    if previous is not None or (_has_cluster(config) and _cluster(config).running()):
        down(config)
    port = previous.port if previous is not None else None
    if config.services == "external":
        from baseline.services.external import external_stack

        stack = external_stack(config)
        redacted = dataclasses.replace(
            stack, dsn=redact_dsn(stack.dsn) or "", admin_dsn=redact_dsn(stack.admin_dsn) or ""
        )
        write_state(config, redacted)  # for `status`; benches take the DSN (and its password) from the config
        return stack
    elif config.services == "compose":
        from baseline.services.compose import compose_up

        stack = compose_up(config)
    else:
        stack, supervisor, cluster = start_embedded(config, port)
        try:
            write_state(config, stack)
        except BaseException:
            supervisor.stop()
            cluster.stop()
            raise
        supervisor.detach()
        return stack
    write_state(config, stack)
    return stack


def down(config: Config) -> bool:
    """Stop what the state file lists (processes, then the cluster) and remove it; safe to call twice.
    Returns whether anything was running."""
    with workdir_lock(config):
        return _down(config)


def _down(config: Config) -> bool:
    stack = read_state(config)
    stopped = False
    if stack is not None and stack.services == "compose":
        from baseline.services.compose import compose_down

        compose_down(config)
        stopped = True
    elif stack is None or stack.services == "embedded":
        stopped = _stop_embedded(config, stack)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(state_path(config))
    return stopped


def describe(stack: Stack) -> dict[str, Any]:
    """The stack without anything secret, for printing."""
    data = stack.to_state()
    data["dsn"] = redact_dsn(stack.dsn)
    data["admin_dsn"] = redact_dsn(stack.admin_dsn)
    return data


__all__ = [
    "ProcessFailed",
    "Stack",
    "StackError",
    "describe",
    "down",
    "ensure_stack",
    "read_state",
    "stack_health",
    "up",
]
