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
    never leaks children; a context manager, so stop() always runs."""

    dsn: str
    workers: int = 2
    worker_concurrency: int = 1
    visibility_timeout: float = 30.0
    api_port: int = 0
    orchestrator: bool = True
    log_dir: Path | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.api_port = self.api_port or free_port()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def spawn(self, name: str, *args: str) -> None:
        out = open(self.log_dir / f"{name}.log", "wb") if self.log_dir else subprocess.DEVNULL  # noqa: SIM115
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "tasker", *args, "--dsn", self.dsn],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def start_worker(self, name: str) -> None:
        self.spawn(
            name,
            "worker",
            "--concurrency",
            str(self.worker_concurrency),
            "--visibility-timeout",
            str(self.visibility_timeout),
        )

    def start(self, timeout: float = 30.0) -> EngineStack:
        self.spawn("api", "api", "--port", str(self.api_port))
        if self.orchestrator:
            self.spawn("orchestrator", "orchestrator")
        for i in range(1, self.workers + 1):
            self.start_worker(f"worker-{i}")
        deadline = time.monotonic() + timeout
        while True:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode} during start-up")
            try:
                if requests.get(f"{self.api_url}/health/ready", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API did not become ready on {self.api_url} within {timeout:.0f} s")
            time.sleep(0.05)

    def kill(self, name: str) -> None:
        """SIGKILL one process (a crash: no cleanup runs)."""
        proc = self.processes[name]
        _signal_group(proc, signal.SIGKILL)
        proc.wait(5)

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
