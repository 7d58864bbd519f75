"""The state file `<workdir>/state.json`: the stack `up` (or a pipeline) left running, for later commands to reuse."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path
from typing import Any

import psycopg
import requests

from baseline.config import Config
from baseline.procfs import pid_alive
from baseline.redaction import redact_dsn
from baseline.results import StoreError, read_json
from baseline.services.model import Stack
from baseline.store import write_json_atomic


def state_path(config: Config) -> Path:
    return config.workdir / "state.json"


def read_state(config: Config) -> Stack | None:
    path = state_path(config)
    if not path.exists():
        return None
    try:
        data = read_json(path)
        return Stack.from_state(data) if isinstance(data, dict) else None
    except (StoreError, TypeError):
        return None


def write_state(config: Config, stack: Stack) -> Path:
    """Record the stack; an external one without its password (benches take the live DSN from the config)."""
    if stack.services == "external":
        stack = dataclasses.replace(stack, dsn=redact_dsn(stack.dsn) or "", admin_dsn=redact_dsn(stack.admin_dsn) or "")
    return write_json_atomic(state_path(config), stack.to_state())


def remove_state(config: Config) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(state_path(config))


def stack_health(stack: Stack) -> dict[str, Any]:
    """Per-role liveness plus API and database answers, for `status` and reuse decisions."""
    roles = {role: pid_alive(pid, stack.start_times.get(role)) for role, pid in stack.pids.items()}
    api_ok = True
    if stack.api_url:
        try:
            api_ok = requests.get(f"{stack.api_url}/health", timeout=2).ok
        except requests.RequestException:
            api_ok = False
    try:
        with psycopg.connect(stack.dsn, connect_timeout=3) as conn:
            db_ok = conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error:
        db_ok = False
    return {"roles": roles, "api": api_ok, "database": db_ok, "healthy": all(roles.values()) and api_ok and db_ok}


def describe(stack: Stack) -> dict[str, Any]:
    """The stack without anything secret, for printing."""
    data = stack.to_state()
    data["dsn"] = redact_dsn(stack.dsn)
    data["admin_dsn"] = redact_dsn(stack.admin_dsn)
    return data
