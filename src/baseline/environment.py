"""Environment fingerprint stored in every result, so a comparison can tell a code change from a machine change.

The readers touch /proc (through baseline.procfs), git and the server.
No password can appear: DSNs are reduced to `postgresql://user@host:port/db`.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

import baseline
from baseline import procfs
from baseline.config import Config
from baseline.redaction import redact_dsn
from baseline.services.model import Stack

PG_SETTINGS = (
    "fsync",
    "synchronous_commit",
    "shared_buffers",
    "work_mem",
    "max_connections",
    "wal_sync_method",
    "shared_preload_libraries",
    "full_page_writes",
    "max_wal_size",
    "effective_cache_size",
    "jit",
)
PACKAGES = (
    "tasker-baseline",
    "psycopg",
    "psycopg-binary",
    "psycopg-pool",
    "fastapi",
    "starlette",
    "uvicorn",
    "numpy",
    "orjson",
    "requests",
    "py-spy",
)


def parse_git_status(porcelain: str) -> bool:
    """Dirty when `git status --porcelain` lists any tracked change (untracked files do not count)."""
    return any(line and not line.startswith("??") for line in porcelain.splitlines())


def machine_info() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "cpu_model": procfs.cpu_model() or platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_bytes": procfs.memory_bytes(),
        "kernel": platform.release(),
        "platform": platform.platform(),
    }


def python_info() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "packages": versions,
    }


def git_info(root: Path) -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain")
    return {
        "commit": commit.strip() if commit else None,
        "dirty": parse_git_status(status) if status is not None else None,
    }


def postgres_info(dsn: str) -> dict[str, Any]:
    """Server version and the settings that move latency, read from the server itself."""
    try:
        with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
            version = conn.execute("SHOW server_version").fetchone()
            rows = conn.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s) ORDER BY name",
                (list(PG_SETTINGS),),
            ).fetchall()
            version_num = conn.info.server_version
    except psycopg.Error as exc:
        return {"dsn": redact_dsn(dsn), "error": f"{type(exc).__name__}: unreachable"}
    settings = {name: value for name, value in rows}
    return {
        "dsn": redact_dsn(dsn),
        "server_version": version[0] if version else None,
        "server_version_num": version_num,
        "settings": settings,
    }


def fingerprint(
    dsn: str | None, config: Config, services: dict[str, Any] | None = None, *, stack: Stack | None = None
) -> dict[str, Any]:
    """What ran where: machine, Python + packages, PostgreSQL + settings, git state, harness, config, how the
    stack's processes were placed on the CPUs, and how the services ran when the provider says (compose: the
    compose version, image ids, container limits)."""
    from baseline.store import now_iso

    out = {
        "captured_at": now_iso(),
        "machine": machine_info(),
        "python": python_info(),
        "postgres": postgres_info(dsn) if dsn else None,
        "git": git_info(config.project_root),
        "harness_version": baseline.__version__,
        "config": config.public(),
        "placement": dict(stack.placement) if stack is not None else None,
    }
    if services is not None:
        out["services"] = services
    return out
