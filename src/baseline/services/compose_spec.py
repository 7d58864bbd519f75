"""The compose file of one stack, as data: the database and one service per process role the target names.

Generated per stack rather than kept as a fixed file, so the stack is the embedded one: the same roles, commands and
environment (`Target.process_roles`), `workers` and `worker_concurrency` honoured, and a project name and ports of
its own, so two stacks can run at once. Pure: no Docker, no files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from baseline.targets.contract import ProcessRole

POSTGRES = "postgres"
PG_PORT = 5432  # inside the database's container
API_PORT = 8000  # inside the API's container
PG_DATA = "/var/lib/postgresql/data"
LABEL_WORKDIR = "baseline.workdir"
LABEL_ROLE = "baseline.role"
DELAY_ENV = "BASELINE_NET_DELAY_MS"
LOOPBACK = "127.0.0.1"


def container_argv(argv: Sequence[str]) -> list[str]:
    """A role's command as the engine image runs it: the program by name (the image's console scripts are on its
    PATH), and a loopback listen address opened to the stack's network: on its container's loopback a service is
    out of reach of the other containers and of the host."""
    if not argv:
        raise ValueError("a process role needs a command")
    return [PurePosixPath(argv[0]).name, *("0.0.0.0" if arg == LOOPBACK else arg for arg in argv[1:])]


def health_port(role: ProcessRole) -> int | None:
    """The container port of a role's health URL (the port to publish for the API), None without one."""
    if not role.health_url:
        return None
    parts = urlsplit(role.health_url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def _escaped(value: str) -> str:
    return value.replace("$", "$$")  # compose interpolates ${...}; a literal dollar is written twice


@dataclass(frozen=True, kw_only=True)
class StackSpec:
    """What one stack's compose file is made of."""

    project: str
    workdir: str
    postgres_image: str
    engine_image: str
    roles: Sequence[ProcessRole]
    pg_host_port: int | None = None  # None: a free port the engine picks
    net_delay_ms: float = 0.0


def _delay(spec: StackSpec, role: str) -> dict[str, Any]:
    """tc netem in every container (the entrypoint applies it before the service starts), which needs NET_ADMIN."""
    labels = {LABEL_WORKDIR: spec.workdir, LABEL_ROLE: role}
    if spec.net_delay_ms <= 0:
        return {"labels": labels}
    return {"labels": labels, "cap_add": ["NET_ADMIN"], "environment": {DELAY_ENV: f"{spec.net_delay_ms:g}"}}


def compose_spec(spec: StackSpec) -> dict[str, Any]:
    """The compose file (as a dict for YAML) of one stack.

    No HEALTHCHECK: Docker would run a probe process inside each container every interval, CPU inside every
    measuring window on a small machine; the harness checks health from outside (SQL, HTTP, container state)."""
    names = [role.name for role in spec.roles]
    if POSTGRES in names or len(set(names)) != len(names):
        raise ValueError(f"process roles must be unique and not named {POSTGRES!r}: {names}")
    postgres: dict[str, Any] = {
        "image": spec.postgres_image,
        "ports": [f"{LOOPBACK}:{spec.pg_host_port or ''}:{PG_PORT}"],
        "volumes": [f"pgdata:{PG_DATA}"],
        "shm_size": "256m",  # parallel query workers share memory through /dev/shm (Docker's default is 64 MB)
        "stop_signal": "SIGINT",  # PostgreSQL's fast shutdown; SIGTERM would wait for every client to leave
        "restart": "no",
        **_delay(spec, POSTGRES),
    }
    services: dict[str, Any] = {POSTGRES: postgres}
    for role in spec.roles:
        delay = _delay(spec, role.name)
        service: dict[str, Any] = {
            "image": spec.engine_image,
            "command": [_escaped(arg) for arg in container_argv(role.argv)],
            "environment": {key: _escaped(value) for key, value in role.env.items()} | delay.pop("environment", {}),
            "restart": "no",
            **delay,
        }
        port = health_port(role)
        if port is not None:
            service["ports"] = [f"{LOOPBACK}::{port}"]
        services[role.name] = service
    labels = {LABEL_WORKDIR: spec.workdir}
    return {
        "services": services,
        "volumes": {"pgdata": {"labels": labels}},
        "networks": {"default": {"labels": labels}},
    }


def api_role(roles: Sequence[ProcessRole], api_port: int = API_PORT) -> ProcessRole:
    """The role serving the API: the one health-checked on the API's port."""
    for role in roles:
        if health_port(role) == api_port:
            return role
    raise ValueError(f"no process role has a health URL on the API port {api_port}: {[r.name for r in roles]}")
