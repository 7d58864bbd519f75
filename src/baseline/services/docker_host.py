"""The Docker engine and the Compose tool this machine has: reached with clear errors, described for fingerprints.

Compose is whichever the machine has, v2 (`docker compose`) first, else the v1 `docker-compose` Debian ships; both
take the same `-p`, `-f`, `up -d`, `down -v` used here. Whether a profiler on this host can attach to the
containers' processes is decided here too: only when the engine runs them in this machine's PID namespace.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from baseline.errors import BadInput
from baseline.services.model import StackError

DEFAULT_SOCKET = "/var/run/docker.sock"


class ComposeToolMissing(BadInput):
    """Neither `docker compose` nor `docker-compose` is installed; the message says how to get one."""


class ProfilingRefused(BadInput):
    """py-spy on this host cannot reach the containers' processes; the message says why and what to do instead."""


def _socket_path() -> str | None:
    """The unix socket the SDK will use (DOCKER_HOST or the default), None for a TCP/SSH engine."""
    host = os.environ.get("DOCKER_HOST", "").strip()
    if not host:
        return DEFAULT_SOCKET
    parts = urlsplit(host)
    return parts.path if parts.scheme in ("unix", "") else None


def _socket_error(path: str) -> int | None:
    """The errno of connecting to the engine's unix socket, None when it accepts."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(5)
        try:
            probe.connect(path)
        except OSError as exc:
            return exc.errno
    return None


def unreachable_reason(exc: BaseException) -> str:
    """Why no engine answered, with the fix for each case: none installed, a stopped daemon, no permission."""
    path = _socket_path()
    where = f"DOCKER_HOST={os.environ['DOCKER_HOST']}" if os.environ.get("DOCKER_HOST") else path
    if path is not None:
        if not os.path.exists(path):
            return (
                f"no Docker engine: {path} does not exist. Install and start Docker (Debian: apt-get install "
                "docker.io, then systemctl start docker), or point DOCKER_HOST at an engine"
            )
        code = _socket_error(path)
        if code in (errno.ECONNREFUSED, errno.ENOENT):
            return (
                f"the Docker daemon is not running ({path} refuses connections). Start it (systemctl start "
                "docker, or dockerd &), or point DOCKER_HOST at a running engine"
            )
        if code in (errno.EACCES, errno.EPERM):
            return f"no permission to use {path}: add this user to the docker group (then log in again), or run as root"
    first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return f"the Docker engine at {where} did not answer ({first}). Check that it runs (docker info)"


def client() -> Any:
    """A docker SDK client that has answered a ping, else StackError saying what is wrong and how to fix it."""
    import docker
    from docker.errors import DockerException

    try:
        found = docker.from_env(timeout=30)
        found.ping()
    except (DockerException, OSError) as exc:
        raise StackError(
            f"services=compose needs a reachable Docker engine: {unreachable_reason(exc)}; or use --services embedded."
        ) from None
    return found


def engine_reachable() -> str | None:
    """None when an engine answers, else why not (for tests and CI that must say why they cannot run)."""
    try:
        client().close()
    except StackError as exc:
        return str(exc)
    return None


# ---------------------------------------------------------------------------------------------- compose tool


@dataclass(frozen=True)
class ComposeTool:
    """How to call Compose here: the argv prefix, its name and version."""

    argv: tuple[str, ...]
    name: str
    version: str

    def describe(self) -> dict[str, str]:
        return {"tool": self.name, "version": self.version}


def _version(argv: list[str]) -> str | None:
    try:
        out = subprocess.run([*argv, "version", "--short"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = out.stdout.strip()
    return text.removeprefix("v") if out.returncode == 0 and text else None


@functools.cache
def compose_tool() -> ComposeTool:
    """`docker compose` (v2) when the plugin answers, else `docker-compose` (v1); ComposeToolMissing otherwise."""
    docker_cli = shutil.which("docker")
    if docker_cli and (version := _version([docker_cli, "compose"])):
        return ComposeTool((docker_cli, "compose"), "docker compose", version)
    legacy = shutil.which("docker-compose")
    if legacy and (version := _version([legacy])):
        return ComposeTool((legacy,), "docker-compose", version)
    raise ComposeToolMissing(
        "services=compose needs Docker Compose and none was found: neither `docker compose` (the v2 plugin) nor "
        "`docker-compose` answers. Install one (Debian: apt-get install docker-compose; Docker's packages: "
        "docker-compose-plugin)."
    )


# ---------------------------------------------------------------------------------------------- description


def describe_engine(docker_client: Any) -> dict[str, Any]:
    """The engine's version and the facts that change what a container costs (storage driver, cgroups)."""
    info = docker_client.info()
    version = docker_client.version()
    return {
        "server_version": version.get("Version"),
        "api_version": version.get("ApiVersion"),
        "operating_system": info.get("OperatingSystem"),
        "kernel": info.get("KernelVersion"),
        "storage_driver": info.get("Driver"),
        "cgroup_driver": info.get("CgroupDriver"),
        "cgroup_version": info.get("CgroupVersion"),
        "security_options": info.get("SecurityOptions") or [],
        "cpus": info.get("NCPU"),
        "memory_bytes": info.get("MemTotal"),
    }


def profiling_refusal(engine: dict[str, Any], pids_visible: bool) -> str | None:
    """Why py-spy on this host cannot attach to the containers' processes, None when it can.

    Docker Desktop runs them in a VM and rootless Docker in a user namespace this user may not ptrace into; an
    engine on another machine (DOCKER_HOST=tcp:// or ssh://) shows PIDs of that machine."""
    options = " ".join(str(o) for o in engine.get("security_options", []))
    system = str(engine.get("operating_system") or "")
    if "Docker Desktop" in system:
        return "Docker Desktop runs the containers in a virtual machine, whose processes this host cannot see"
    if "rootless" in options:
        return "rootless Docker runs the containers in a user namespace that py-spy on this host may not ptrace"
    if not pids_visible:
        return (
            "the containers' processes are not in this machine's process table (is DOCKER_HOST a remote engine?), "
            "so their PIDs mean nothing here"
        )
    return None
