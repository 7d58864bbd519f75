"""Compose services: the same stack in containers (compose/docker-compose.yml), driven by `docker compose`,
with the docker SDK for container PIDs (profilers attach to the containers' host PIDs).

The database container starts empty each start (`down -v` drops its volume); the harness migrates it and loads
the seeded dataset from the host before the target's containers start, so runs begin from the same state. The
target names its compose services and database (Workload.compose_services / compose_database).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg

from baseline.config import Config
from baseline.services.model import Stack, StackError
from baseline.targets.contract import Target

PROJECT = "baseline"
DEFAULT_PG_PORT = 55432
DEFAULT_API_PORT = 58000


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


class ComposeRunning:
    def __init__(self, stack: Stack, config: Config) -> None:
        self.stack, self.config = stack, config

    def check_alive(self) -> None:
        return None

    def stop(self) -> None:
        _compose(self.config, "down", "-v", "--remove-orphans")

    def detach(self) -> None:
        return None


class ComposeProvider:
    kind = "compose"

    def start(self, config: Config, target: Target, *, port: int | None = None) -> ComposeRunning:
        """postgres up -> migrate + dataset from the host -> the target's containers up and healthy (`--wait`)."""
        client = docker_client()
        pg_port, api_port = ports()
        database = target.workload.compose_database
        dsn = f"postgresql://postgres@127.0.0.1:{pg_port}/{database}"
        _compose(config, "up", "-d", "--wait", "postgres")
        target.migrate(dsn)
        counts = target.load_dataset(dsn, config.dataset_scale, config.dataset_seed)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            conn.execute("CHECKPOINT")
        _compose(config, "up", "-d", "--wait", "--build", *target.workload.compose_services)
        stack = Stack(
            services=self.kind,
            target=config.target,
            dsn=dsn,
            admin_dsn=f"postgresql://postgres@127.0.0.1:{pg_port}/postgres",
            api_url=f"http://127.0.0.1:{api_port}",
            database=database,
            pids=container_pids(client),
            dataset=counts,
            label=config.label,
            run=config.run,
            dataset_scale=config.dataset_scale,
            dataset_seed=config.dataset_seed,
        )
        return ComposeRunning(stack, config)

    def stop_recorded(self, config: Config, stack: Stack | None) -> bool:
        if stack is None:
            return False
        _compose(config, "down", "-v", "--remove-orphans")
        return True
