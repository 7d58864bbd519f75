"""Connections, NOTIFY channel names and the DSN lookup shared by every engine process."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final

import psycopg
from psycopg.types.json import Jsonb

ORCHESTRATION_CHANNEL = "tasker_orchestration"
COMPLETION_CHANNEL = "tasker_task_completed"
DSN_ENV = "TASKER_DATABASE_URL"

__all__ = [
    "API_CONNECTION",
    "COMPLETION_CHANNEL",
    "DSN_ENV",
    "ORCHESTRATION_CHANNEL",
    "Jsonb",
    "connect",
    "resolve_dsn",
    "step_channel",
]


def step_channel(namespace: str) -> str:
    """The channel a namespace's workers LISTEN on (NOTIFY with pg_notify, so no quoting is needed there)."""
    return f"tasker_steps_{namespace}"


def resolve_dsn(dsn: str | None) -> str:
    value = dsn or os.environ.get(DSN_ENV)
    if not value:
        raise SystemExit(f"no database given: pass --dsn postgresql://... or set {DSN_ENV}")
    return value


# JIT compiles a query's expressions once its estimated cost passes jit_above_cost, which any plan left with a
# disabled sequential scan does (and large tables do): tens of ms on statements that run in well under one.
JIT_OFF = "-c jit=off"
SESSION_OPTIONS = f"-c enable_seqscan=off {JIT_OFF}"
#: The API's pooled asyncio connections (keyword arguments of psycopg's connect): JIT off as everywhere, statements
#: prepared from their first execution; sequential scans stay allowed there.
API_CONNECTION: Final[Mapping[str, Any]] = {"autocommit": True, "prepare_threshold": 1, "options": JIT_OFF}


def connect(dsn: str, autocommit: bool = True, role: str = "tasker", durable: bool = True) -> psycopg.Connection:
    """A long-lived connection; psycopg prepares statements it sees repeatedly (prepare_threshold).

    durable=False turns synchronous_commit off for the session: for internal hand-offs only (see docs/engine.md,
    "Durability"); whatever a client is told (task created, task finished) still commits synchronously.
    Sequential scans are off: every engine statement reads a handful of rows through an index, and the queue tables
    churn (each message inserted then deleted), so their statistics say "empty" and a plan prepared on them
    seq-scans a heap bloated with dead rows until autovacuum (docs/findings/engine.md).
    """
    options = SESSION_OPTIONS + ("" if durable else " -c synchronous_commit=off")
    return psycopg.connect(dsn, autocommit=autocommit, prepare_threshold=1, application_name=role, options=options)
