"""Compose services: the same stack in containers (compose/docker-compose.yml), driven by `docker compose`,
with the docker SDK for container health, stats and PIDs (profilers attach to the containers' host PIDs).

The database container starts empty each `up` (`down -v` drops its volume); the harness migrates it and loads
the seeded dataset from the host before the engine containers start, so runs begin from the same state.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from baseline.config import Config
from baseline.services.stack import Stack, StackError
from baseline.targets import get_target

PROJECT = "baseline"
DEFAULT_PG_PORT = 55432
DEFAULT_API_PORT = 58000
ENGINE_SERVICES = ("api", "orchestrator", "worker-1", "worker-2")


def compose_file(config: Config) -> Path:
    return config.project_root / "compose" / "docker-compose.yml"


def ports() -> tuple[int, int]:
    return (
        int(os.environ.get("BASELINE_COMPOSE_PG_PORT", DEFAULT_PG_PORT)),
        int(os.environ.get("BASELINE_COMPOSE_API_PORT", DEFAULT_API_PORT)),
    )


def docker_client() -> Any:
    """A docker SDK client that has answered a ping, else StackError saying how to get one."""
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except DockerException as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise StackError(
            f"services=compose needs a reachable Docker engine, but none answered ({reason}). Start Docker "
            "(or point DOCKER_HOST at one), or use --services embedded."
        ) from None
    return client


def _compose(config: Config, *args: str) -> None:
    executable = shutil.which("docker")
    if executable is None:
        raise StackError("services=compose needs the `docker` CLI with the compose plugin on PATH")
    pg_port, api_port = ports()
    env = {**os.environ, "BASELINE_COMPOSE_PG_PORT": str(pg_port), "BASELINE_COMPOSE_API_PORT": str(api_port)}
    command = [executable, "compose", "-f", str(compose_file(config)), "-p", PROJECT, *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=config.project_root)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise StackError(f"`docker compose {' '.join(args)}` failed ({result.returncode}):\n{tail}")


def container_pids(client: Any) -> dict[str, int]:
    """Role -> host PID of each compose service's main process (from `container.top()`)."""
    pids: dict[str, int] = {}
    for container in client.containers.list(filters={"label": f"com.docker.compose.project={PROJECT}"}):
        role = container.labels.get("com.docker.compose.service", container.name)
        top = container.top()
        titles = top.get("Titles", [])
        rows = top.get("Processes") or []
        if "PID" in titles and rows:
            pids[role] = int(rows[0][titles.index("PID")])
        else:
            pids[role] = int(container.attrs.get("State", {}).get("Pid", 0))
    return pids


def container_status(client: Any) -> dict[str, dict[str, Any]]:
    """Health, status and a one-shot CPU/memory reading per compose container."""
    out: dict[str, dict[str, Any]] = {}
    for container in client.containers.list(filters={"label": f"com.docker.compose.project={PROJECT}"}):
        role = container.labels.get("com.docker.compose.service", container.name)
        stats = container.stats(stream=False)
        out[role] = {
            "status": container.status,
            "health": container.attrs.get("State", {}).get("Health", {}).get("Status"),
            "memory_bytes": stats.get("memory_stats", {}).get("usage"),
            "cpu_total_ns": stats.get("cpu_stats", {}).get("cpu_usage", {}).get("total_usage"),
        }
    return out


def compose_up(config: Config) -> Stack:
    """postgres up -> migrate + dataset from the host -> engine containers up and healthy (`--wait`)."""
    client = docker_client()
    pg_port, api_port = ports()
    dsn = f"postgresql://postgres@127.0.0.1:{pg_port}/tasker"
    _compose(config, "up", "-d", "--wait", "postgres")
    target = get_target(config.target)
    target.migrate(dsn)
    counts = target.load_dataset(dsn, config.dataset_scale, config.dataset_seed)
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")
    _compose(config, "up", "-d", "--wait", "--build", *ENGINE_SERVICES)
    return Stack(
        dsn=dsn,
        admin_dsn=f"postgresql://postgres@127.0.0.1:{pg_port}/postgres",
        api_url=f"http://127.0.0.1:{api_port}",
        pids=container_pids(client),
        target=config.target,
        services="compose",
        database="tasker",
        started_by_us=True,
        dataset=counts,
        label=config.label,
        run=config.run,
        dataset_scale=config.dataset_scale,
        dataset_seed=config.dataset_seed,
    )


def compose_down(config: Config) -> None:
    _compose(config, "down", "-v", "--remove-orphans")


@contextlib.contextmanager
def compose_stack(config: Config) -> Iterator[Stack]:
    stack = compose_up(config)
    try:
        yield stack
    finally:
        compose_down(config)
