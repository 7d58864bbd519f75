"""What the harness needs from a system under test, and nothing more: the target adapter contract.

The harness reaches a target only through these surfaces (processes, SQL, HTTP, NOTIFY channels), so a second
system is a second adapter, not a change to the benches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class ProcessRole:
    """One engine process to supervise: its role name (api, orchestrator, worker-1...), command and health."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    health_url: str | None = None


@dataclass(frozen=True)
class Workflow:
    """A workflow the benches submit: where it lives in the engine and what a successful run yields."""

    name: str
    namespace: str
    task_name: str
    version: str
    context: dict[str, Any]
    expected_results: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SqlCase:
    """One timed SQL statement with its parameters; `id` is the result-file case id."""

    id: str
    sql: str
    params: tuple[Any, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)


class TargetError(RuntimeError):
    """The target could not do what was asked (migration failed, console script missing...)."""


@runtime_checkable
class Target(Protocol):
    name: str
    completion_channel: str

    def migrate(self, dsn: str) -> None: ...

    def process_roles(self, dsn: str, api_port: int, workers: int, worker_concurrency: int) -> list[ProcessRole]: ...

    def load_dataset(self, dsn: str, scale: int, seed: int) -> dict[str, Any]: ...

    def lifecycle_test_command(self, quick: bool = False) -> list[str]: ...

    def schema_fingerprint(self) -> str: ...

    @property
    def workload(self) -> ModuleType: ...
