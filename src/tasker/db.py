"""Connections, NOTIFY channel names and the DSN lookup shared by every engine process."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any, Final

import psycopg
from psycopg.types.json import Jsonb

ORCHESTRATION_CHANNEL = "tasker_orchestration"
COMPLETION_CHANNEL = "tasker_task_completed"
DSN_ENV = "TASKER_DATABASE_URL"
#: Set to 1 to run the engine in its test mode: the step handlers obey the test hooks of a task's context
#: (`_fail_attempts`, `_sleep_ms`, docs/engine.md). Only the engine's own tests set it; otherwise those keys are
#: plain context data.
TEST_HOOKS_ENV = "TASKER_TEST_HOOKS"
#: PostgreSQL's numeric type, and so a jsonb number, holds at most this many digits before the decimal point.
NUMERIC_MAX_DIGITS = 131_072

__all__ = [
    "API_CONNECTION",
    "COMPLETION_CHANNEL",
    "DSN_ENV",
    "NUMERIC_MAX_DIGITS",
    "ORCHESTRATION_CHANNEL",
    "TEST_HOOKS_ENV",
    "Jsonb",
    "allow_exact_numbers",
    "connect",
    "in_test_mode",
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


def in_test_mode() -> bool:
    """Whether this process runs in the engine's test mode ($TASKER_TEST_HOOKS=1)."""
    return os.environ.get(TEST_HOOKS_ENV) == "1"


def allow_exact_numbers() -> None:
    """Let this process convert integers of up to NUMERIC_MAX_DIGITS digits to and from text.

    Results are JSON numbers of any size a jsonb column holds, but Python refuses by default to convert an integer
    of more than 4,300 digits to or from text (json.dumps, json.loads): a worker squaring a 2,150-digit number could
    not submit its result. The limit guards against conversions of quadratic cost; at jsonb's own limit one costs
    about 0.2 s, and an integer larger than jsonb can hold is still refused (the step's error result says so).
    """
    current = sys.get_int_max_str_digits()
    if current != 0 and current < NUMERIC_MAX_DIGITS:
        sys.set_int_max_str_digits(NUMERIC_MAX_DIGITS)


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
