"""Engine test fixtures: engine processes (EngineStack), extra databases, and databases built by the old migrations."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests

from baseline.services.postgres import EmbeddedPostgres, PostgresServer

#: The ten append-only migrations the current-state SQL replaced, as of 7276b09 (git show 7276b09:src/tasker/sql/...).
OLD_MIGRATIONS = Path(__file__).parent / "fixtures" / "migrations_7276b09"

_counter = itertools.count()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


@dataclass
class EngineStack:
    """api, orchestrator and workers as real processes (`python -m tasker ...`), each in its own session so a stop
    never leaks children; a context manager, so stop() always runs.

    As the harness starts them: the DSN in TASKER_DATABASE_URL, never on argv. The engine's test mode
    (TASKER_TEST_HOOKS=1: the context's `_fail_attempts` and `_sleep_ms` apply) is on unless `test_hooks=False`.
    start() waits for /health/ready when the stack is whole (an orchestrator and a worker), else for /health."""

    dsn: str
    workers: int = 2
    worker_concurrency: int = 1
    visibility_timeout: float = 30.0
    heartbeat_interval: float | None = None  # the workers' and orchestrator's; None: the engine's default
    api_port: int = 0
    orchestrator: bool = True
    test_hooks: bool = True
    log_dir: Path | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.api_port = self.api_port or free_port()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def spawn(self, name: str, *args: str) -> None:
        out = open(self.log_dir / f"{name}.log", "wb") if self.log_dir else subprocess.DEVNULL  # noqa: SIM115
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TASKER_DATABASE_URL": self.dsn}
        env.pop("TASKER_TEST_HOOKS", None)
        if self.test_hooks:
            env["TASKER_TEST_HOOKS"] = "1"
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "tasker", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )

    def _heartbeat(self) -> list[str]:
        return [] if self.heartbeat_interval is None else ["--heartbeat-interval", str(self.heartbeat_interval)]

    def start_worker(self, name: str, *extra: str) -> None:
        self.spawn(
            name,
            "worker",
            "--concurrency",
            str(self.worker_concurrency),
            "--visibility-timeout",
            str(self.visibility_timeout),
            *self._heartbeat(),
            *extra,
        )

    def start_orchestrator(self, name: str = "orchestrator") -> None:
        self.spawn(name, "orchestrator", *self._heartbeat())

    def wait_ready(self, timeout: float = 30.0, path: str = "/health/ready") -> None:
        """Until `path` answers 200; RuntimeError if a process exits meanwhile or the time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode} during start-up")
            try:
                if requests.get(f"{self.api_url}{path}", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.api_url}{path} did not answer 200 within {timeout:.0f} s")
            time.sleep(0.05)

    def ready_status(self) -> tuple[int, dict[str, object]]:
        resp = requests.get(f"{self.api_url}/health/ready", timeout=5)
        return resp.status_code, resp.json()

    def start(self, timeout: float = 30.0) -> EngineStack:
        self.spawn("api", "api", "--port", str(self.api_port))
        if self.orchestrator:
            self.start_orchestrator()
        for i in range(1, self.workers + 1):
            self.start_worker(f"worker-{i}")
        whole = self.orchestrator and self.workers > 0
        self.wait_ready(timeout, "/health/ready" if whole else "/health")
        return self

    def kill(self, name: str) -> None:
        """SIGKILL one process (a crash: no cleanup runs)."""
        proc = self.processes[name]
        _signal_group(proc, signal.SIGKILL)
        proc.wait(5)

    def signal(self, name: str, sig: int) -> None:
        """Send `sig` to one process's group (SIGSTOP to hang it, SIGCONT to resume it)."""
        _signal_group(self.processes[name], sig)

    def alive(self, name: str) -> bool:
        return self.processes[name].poll() is None

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for proc in self.processes.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(5)

    def __enter__(self) -> EngineStack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(scope="session")
def engine_stack() -> type[EngineStack]:
    """The EngineStack class (test modules cannot import this conftest)."""
    return EngineStack


@pytest.fixture
def dead_dsn() -> str:
    """A DSN nobody answers on."""
    return f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere?connect_timeout=1"


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
