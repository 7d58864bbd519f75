"""What the harness needs from a system under test, and nothing more: the target contract.

A target is a factory (a class or function of no arguments) returning a `Target`; the harness finds it through
the `baseline.targets` entry-point group or as `package.module:Factory` in `[tool.baseline] target`. The harness
reaches the system only through what a target gives here: processes to start, SQL statements to time, HTTP
requests to make, NOTIFY channels to listen on, and the checks that a result is right. Nothing else in the
harness knows a target's names, so a second system is a second target, not a change to the benches.
See docs/targets.md for what each phase asks of a target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import psycopg

from baseline.errors import Failure
from baseline.revisions import Revision


class TargetError(Failure):
    """The target could not do what was asked (its migration failed, its console script is missing...)."""


class TaskVerificationError(Failure):
    """A finished task whose state or results differ from what its workflow must produce."""


@dataclass(frozen=True, kw_only=True)
class ProcessRole:
    """One process of the system to start and supervise: its role name (api, worker-1...), command and health.

    `env` holds what the process needs besides the inherited environment (its DSN belongs here, not in argv)."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    health_url: str | None = None


@dataclass(frozen=True, kw_only=True)
class SqlStatement:
    """One timed SQL call: case id, the function it exercises, its SQL (psycopg %s params) and parameters.

    `locks`: the call takes row locks (FOR UPDATE SKIP LOCKED); each timed call runs inside a transaction the
    bench opens and rolls back outside the timed region. `cycle`: parameter tuples taken in turn, call after
    call (a state toggle such as a compare-and-swap that must succeed); every call's first column must equal
    `expect`, and the bench completes the cycle untimed, so the rows end as they were found.
    """

    id: str
    function: str
    sql: str
    params: tuple[Any, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    locks: bool = False
    cycle: tuple[tuple[Any, ...], ...] = ()
    expect: Any = None


@runtime_checkable
class TaskClient(Protocol):
    """How a bench creates and reads tasks of a target: an HTTP API, or a library's own call (a queue's defer).

    A creation is three steps so that only the call itself is timed: `prepare` (untimed) builds what to send,
    `submit` (timed) sends it, `accepted` (untimed) checks the answer and returns the new task's id."""

    #: What `submit` talks to, for results and error messages (e.g. "POST http://127.0.0.1:8000/v1/tasks").
    endpoint: str
    #: The case id and meta of the cheapest round trip over the same client (the API's floor), or None.
    floor_case: str | None

    def prepare(self, workflow: str, correlation_id: str) -> Any: ...

    def submit(self, prepared: Any) -> Any: ...

    def accepted(self, workflow: str, answer: Any) -> str:
        """The created task's id; raise a Failure naming the answer when it was not created."""
        ...

    def fetch(self, task_id: str) -> Mapping[str, Any]:
        """The task as `Workload.verify_task` reads it."""
        ...

    def floor(self) -> Any:
        """The cheapest round trip over the same client (timed by the task-initialization bench)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Workload(Protocol):
    """What the benches time on a target and how they check it."""

    #: NOTIFY channel on which the system announces a finished task; the payload is the task's id.
    completion_channel: str
    #: Workflows the e2e bench runs (POST -> completion event), each verified afterwards.
    e2e_workflows: Sequence[str]
    #: Workflows whose task creation the task-initialization bench times.
    task_init_workflows: Sequence[str]
    #: Case ids for the console's headline table, most telling first.
    key_cases: Sequence[str]
    #: Source file stems (`step_enqueuer` for .../step_enqueuer.py) whose profile shares the lifecycle gate watches.
    lifecycle_modules: Sequence[str]
    #: Id of the SQL case the bench also times in a bare loop, to state the harness's own overhead.
    calibration_case: str
    #: Hop case id -> what the hop spans, for `hop_latencies`' cases.
    hop_cases: Mapping[str, str]

    def task_client(self, dsn: str, api_url: str | None) -> TaskClient:
        """A client that creates and reads tasks (closed by the bench)."""
        ...

    def verify_task(self, task: Mapping[str, Any], workflow: str) -> None:
        """Check a finished task (the GET /v1/tasks/{id} body); raise TaskVerificationError naming what differs."""
        ...

    def sql_statements(self, conn: psycopg.Connection[Any]) -> list[SqlStatement]:
        """Every SQL case, with its subjects chosen deterministically from the loaded dataset."""
        ...

    def engine_backlog(self, conn: psycopg.Connection[Any]) -> int:
        """How much work the system has left right now (0 when idle); must leave nothing changed."""
        ...

    def hop_latencies(self, conn: psycopg.Connection[Any], task_ids: Sequence[str]) -> dict[str, list[int]]:
        """Samples (ns) per hand-off of finished tasks, keyed by `hop_cases` ids; {} when the system keeps none."""
        ...

    def audit_cases(self) -> Mapping[str, Sequence[str]]:
        """Phase -> the case ids (or `{a,b}` / `{1..5}` patterns) its benches record for this target."""
        ...


@runtime_checkable
class Target(Protocol):
    """A system under test as the harness drives it."""

    name: str

    @property
    def workload(self) -> Workload: ...

    def migrate(self, dsn: str) -> None:
        """Create the system's schema in an empty database."""
        ...

    def process_roles(self, dsn: str, api_port: int, workers: int, worker_concurrency: int) -> list[ProcessRole]:
        """The processes of one stack: the API on `api_port` (health-checked), the rest."""
        ...

    def load_dataset(self, dsn: str, scale: int, seed: int) -> dict[str, Any]:
        """Load the seeded dataset (same scale and seed, same rows) into a migrated database; returns counts."""
        ...

    def lifecycle_test_command(self, quick: bool = False) -> list[str]:
        """The command whose run the lifecycle profile records (py-spy follows its children)."""
        ...

    def schema_fingerprint(self) -> str:
        """A digest of the schema: the seeded template database is rebuilt when it changes."""
        ...


@dataclass(frozen=True, kw_only=True)
class Injection:
    """A known slowdown written into a checkout: what it does, and the SQL function it slows (None: the E2E chain)."""

    description: str
    function: str | None = None


@runtime_checkable
class Injectable(Protocol):
    """A target the verdict check can slow down on purpose, to measure the A/B's power against a known change."""

    def inject(self, source: Path, kind: str, amount: float, measured: Mapping[str, float]) -> Injection:
        """Slow the checkout at `source` by `amount` (0.10 = 10%): `sql` one SQL function server side, `e2e` the
        chain of a task; `measured` maps case ids to their measured p50 (ns), to size the slowdown."""
        ...


@runtime_checkable
class Revisable(Protocol):
    """A target whose revisions an A/B run can build and measure side by side (each side its own build and stack;
    the same harness code measures both)."""

    def resolve_revision(self, ref: str | None, *, side: str, project_root: Path) -> Revision:
        """The revision `ref` names; None asks for the side's default ("base" or "head")."""
        ...

    def install(self, revision: Revision, into: Path) -> Target:
        """Build the revision into the folder `into` (reused when already built there); the target bound to it."""
        ...

    def bind(self, into: Path) -> Target:
        """The target bound to a revision `install` built into `into` earlier (nothing is built)."""
        ...
