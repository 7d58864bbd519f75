"""What the docker SDK tells about a compose stack's containers: roles, host PIDs, state, CPU and memory, limits.

Every read goes through the SDK (container attrs and one-shot stats), none through the CLI. A role's PID is the
host PID of its container's main process (`State.Pid`): the entrypoint execs the service, so that is the service.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from baseline.procfs import process_start_time
from baseline.services.compose_spec import LABEL_ROLE

PROJECT_LABEL = "com.docker.compose.project"


def project_containers(client: Any, project: str) -> dict[str, Any]:
    """Role -> container of a compose project (stopped ones included)."""
    found = client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project}"})
    return {c.labels.get(LABEL_ROLE) or c.labels.get("com.docker.compose.service", c.name): c for c in found}


def host_pids(containers: Mapping[str, Any]) -> tuple[dict[str, int], dict[str, int | None]]:
    """Role -> host PID of the main process, and its start time from this host's /proc (None where this host cannot
    see it: then the PID belongs to another machine or namespace, and nothing here may act on it)."""
    pids: dict[str, int] = {}
    starts: dict[str, int | None] = {}
    for role, container in containers.items():
        container.reload()
        pid = int(container.attrs.get("State", {}).get("Pid") or 0)
        pids[role] = pid
        starts[role] = process_start_time(pid) if pid > 0 else None
    return pids, starts


def published_port(container: Any, port: int) -> int | None:
    """The host port a container's `port`/tcp is published on."""
    container.reload()
    bindings = (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(f"{port}/tcp") or []
    for binding in bindings:
        if binding.get("HostPort"):
            return int(binding["HostPort"])
    return None


def state(container: Any) -> dict[str, Any]:
    """The container's state as Docker keeps it: status, exit code, OOM kill, restarts, and health if defined."""
    attrs = container.attrs.get("State", {})
    health = attrs.get("Health") or {}
    return {
        "status": attrs.get("Status"),
        "running": bool(attrs.get("Running")),
        "exit_code": attrs.get("ExitCode"),
        "oom_killed": bool(attrs.get("OOMKilled")),
        "restarts": container.attrs.get("RestartCount", 0),
        "health": health.get("Status"),
        "started_at": attrs.get("StartedAt"),
    }


def usage(container: Any) -> dict[str, Any]:
    """CPU time so far and memory now: the first item of a stats stream (a single read waits for two of the
    engine's one-second ticks, the stream's first item for one)."""
    stream = container.stats(stream=True, decode=True)
    try:
        stats = next(stream)
    finally:
        stream.close()
    cpu = (stats.get("cpu_stats") or {}).get("cpu_usage") or {}
    memory = stats.get("memory_stats") or {}
    detail = memory.get("stats") or {}
    return {
        "cpu_ns": cpu.get("total_usage"),
        "memory_bytes": memory.get("usage"),
        "memory_max_bytes": memory.get("max_usage"),
        "memory_rss_bytes": detail.get("rss", detail.get("anon")),
        "pids": (stats.get("pids_stats") or {}).get("current"),
    }


def limits(container: Any) -> dict[str, Any]:
    """The resource limits Docker applies (0 or None: unlimited)."""
    host = container.attrs.get("HostConfig", {})
    return {
        "nano_cpus": host.get("NanoCpus") or 0,
        "cpu_quota": host.get("CpuQuota") or 0,
        "cpu_period": host.get("CpuPeriod") or 0,
        "cpuset_cpus": host.get("CpusetCpus") or "",
        "memory_bytes": host.get("Memory") or 0,
        "memory_swap_bytes": host.get("MemorySwap") or 0,
        "pids_limit": host.get("PidsLimit") or 0,
        "shm_size_bytes": host.get("ShmSize") or 0,
        "cap_add": host.get("CapAdd") or [],
    }


def _entry(container: Any) -> dict[str, Any]:
    container.reload()
    entry = {"container": container.short_id, **state(container)}
    if entry["running"]:
        entry.update(usage(container))
    return entry


def snapshot(client: Any, project: str) -> dict[str, dict[str, Any]]:
    """Role -> state and usage of every container of the project, now. Read in parallel: the engine answers a stats
    read on its one-second collection tick, so reads in turn would take a second per container."""
    found = project_containers(client, project)
    with ThreadPoolExecutor(max_workers=max(1, len(found))) as pool:
        entries = dict(zip(found, pool.map(_entry, found.values()), strict=True))
    return entries


def phase_report(before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Per role: its state after the phase, the CPU seconds it used during the phase and its memory at the end;
    `healthy` is every container still running, none restarted or OOM-killed."""
    roles: dict[str, Any] = {}
    for role, end in after.items():
        start = before.get(role, {})
        cpu = None
        if isinstance(end.get("cpu_ns"), int) and isinstance(start.get("cpu_ns"), int):
            cpu = round((end["cpu_ns"] - start["cpu_ns"]) / 1e9, 4)
        roles[role] = {
            **{k: end.get(k) for k in ("container", "status", "exit_code", "oom_killed", "restarts", "health")},
            "cpu_s": cpu,
            "memory_bytes": end.get("memory_bytes"),
            "memory_max_bytes": end.get("memory_max_bytes"),
            "memory_rss_bytes": end.get("memory_rss_bytes"),
            "restarted_in_phase": end.get("restarts") != start.get("restarts")
            or end.get("started_at") != start.get("started_at"),
        }
    healthy = (
        bool(roles)
        and set(roles) == set(before)
        and all(
            r["status"] == "running" and not r["oom_killed"] and not r["restarted_in_phase"] for r in roles.values()
        )
    )
    return {"healthy": healthy, "roles": roles}


def dump_logs(containers: Mapping[str, Any], logs_dir: Path) -> dict[str, Path]:
    """Each container's output (stdout and stderr) to <logs_dir>/<role>.log; role -> path."""
    from docker.errors import APIError

    logs_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for role, container in containers.items():
        path = logs_dir / f"{role}.log"
        try:
            path.write_bytes(container.logs(stdout=True, stderr=True))
        except APIError as exc:
            path.write_text(f"(could not read the container's log: {exc})\n")
        written[role] = path
    return written
