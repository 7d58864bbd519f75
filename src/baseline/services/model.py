"""The running system under test as one `Stack`, and the protocol every way of providing one follows.

A provider (embedded, external, compose) starts a stack and hands back a `Running` handle that stops it, or
leaves it running for later commands (`up`). Everything that starts or reuses stacks goes through
`services.control`, the one dispatch over providers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from baseline.config import Config
from baseline.errors import Failure
from baseline.targets.contract import Target

STATE_VERSION = 1


class StackError(Failure):
    """The services could not be started, reached or stopped; the message says what to do."""


@dataclass(kw_only=True)
class Stack:
    """Where the system under test answers, and what was started for it (pids per role, for profiling)."""

    services: str
    target: str
    dsn: str
    admin_dsn: str
    api_url: str | None  # None: the system under test has no HTTP API (its task client talks to it otherwise)
    database: str
    pids: dict[str, int] = field(default_factory=dict)
    start_times: dict[str, int | None] = field(default_factory=dict)
    template: str | None = None
    port: int | None = None
    dataset: dict[str, Any] = field(default_factory=dict)
    label: str | None = None
    run: int | None = None
    dataset_scale: int | None = None
    dataset_seed: int | None = None
    logs_dir: str | None = None
    owner_pid: int | None = None  # the process that started it and will stop it
    owner_start_time: int | None = None  # that process's start time, against PID reuse
    placement: dict[str, Any] = field(default_factory=dict)  # the policy its processes were pinned under
    project: str | None = None  # the compose project of a compose stack
    net_delay_ms: float = 0.0  # the delay every container of a compose stack adds to its packets

    def to_state(self) -> dict[str, Any]:
        return {**asdict(self), "state_version": STATE_VERSION}

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Stack:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def backend_pids_are_ours(self) -> bool:
        """Whether a database backend's PID (pg_backend_pid) names a process of this host's PID namespace: not in
        a container, whose server reports the PIDs of its own namespace."""
        return self.services != "compose"

    def service_pids(self) -> dict[str, int]:
        """The system's own processes (what a profiler attaches to): every role but the database server."""
        return {role: pid for role, pid in self.pids.items() if role != "postgres"}


class Running(Protocol):
    """A stack this process started: stop it, or leave it running past this process (`detach`)."""

    stack: Stack

    def check_alive(self) -> None:
        """Raise StackError naming a process of the stack that has died."""
        ...

    def stop(self) -> None: ...

    def detach(self) -> None: ...


class Provider(Protocol):
    """One way of providing the services: `start` a fresh stack, or stop one recorded by an earlier process."""

    kind: str

    def start(self, config: Config, target: Target, *, port: int | None = None) -> Running:
        """A healthy stack on a fresh run database; `port` is a preferred database port (stable DSNs across runs)."""
        ...

    def stop_recorded(self, config: Config, stack: Stack | None) -> bool:
        """Stop what `stack` (read from the state file, None when there is none) left running; True if anything ran."""
        ...
