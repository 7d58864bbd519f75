"""Heartbeats of the engine's processes and the readiness rule of the API's /health/ready.

Each worker and orchestrator process runs one keeper thread with a connection of its own (never a hot-path one).
The keeper registers the process in tasker_processes, then every `period` seconds runs the process's chores (a
worker extends the claims of steps running longer than a third of the visibility timeout) and writes a heartbeat,
but only while the process's loops are alive and consuming (its `healthy` callback). A killed process drops out
of pg_stat_activity at once, a hung one stops beating: /health/ready reads both (`READY_SQL`, `unready_reasons`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import psycopg

from tasker.db import connect

log = logging.getLogger("tasker.liveness")

#: Seconds between two heartbeats of a process (at most: a worker with a short visibility timeout beats faster).
HEARTBEAT_INTERVAL = 5.0
#: A process whose last heartbeat is older than this many periods is not live.
STALE_PERIODS = 3

_REGISTER = """
WITH gone AS (
    DELETE FROM tasker_processes p
    WHERE p.heartbeat_at < clock_timestamp() - p.stale_after
      AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = p.backend_pid)
)
INSERT INTO tasker_processes (process_uuid, role, namespaces, hostname, pid, backend_pid, stale_after, loops)
VALUES (%(process)s, %(role)s, %(namespaces)s, %(hostname)s, %(pid)s, pg_backend_pid(),
        make_interval(secs => %(stale_after)s), %(loops)s)
ON CONFLICT (process_uuid) DO UPDATE
SET backend_pid = excluded.backend_pid, heartbeat_at = clock_timestamp()
"""
_BEAT = (
    "UPDATE tasker_processes SET heartbeat_at = clock_timestamp(), busy = %(busy)s, completed = %(completed)s "
    "WHERE process_uuid = %(process)s"
)
_DEREGISTER = "DELETE FROM tasker_processes WHERE process_uuid = %s"

#: The live processes: heartbeat connection open, last heartbeat within the process's own stale_after.
READY_SQL = """
SELECT p.role, p.namespaces FROM tasker_processes p
WHERE p.heartbeat_at > clock_timestamp() - p.stale_after
  AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = p.backend_pid)
"""
#: The namespaces of the registered templates: each needs a live worker.
NAMESPACES_SQL = "SELECT name FROM task_namespaces ORDER BY name"


@dataclass(frozen=True)
class LiveProcess:
    role: str  # worker | orchestrator
    namespaces: tuple[str, ...] = ()


def unready_reasons(live: Iterable[LiveProcess], namespaces: Sequence[str]) -> list[str]:
    """Why the engine would not run a task posted now ([] when it would): no live orchestrator, or a namespace of a
    registered template that no live worker serves."""
    live = list(live)
    reasons = []
    if not any(p.role == "orchestrator" for p in live):
        reasons.append("no live orchestrator")
    served = {ns for p in live if p.role == "worker" for ns in p.namespaces}
    missing = [ns for ns in namespaces if ns not in served]
    if missing:
        reasons.append(f"no live worker serves namespace {', '.join(missing)}")
    return reasons


class Keeper:
    """One process's heartbeat (and periodic chores) on a connection and thread of its own.

    `healthy()` says whether the process's loops are alive and consuming; `stats()` gives (busy, completed) for
    the row; `chores(conn)` runs before each heartbeat (a worker's claim extensions). Nothing here raises into the
    process: a failed tick is logged and the next one tries again, on a new connection if the old one broke."""

    def __init__(
        self,
        dsn: str,
        *,
        role: str,
        period: float,
        healthy: Callable[[], bool],
        stats: Callable[[], tuple[int, int]],
        namespaces: Sequence[str] = (),
        loops: int = 1,
        chores: Callable[[psycopg.Connection], None] | None = None,
    ) -> None:
        self.dsn = dsn
        self.role = role
        self.period = period
        self.healthy = healthy
        self.stats = stats
        self.namespaces = list(namespaces)
        self.loops = loops
        self.chores = chores
        self.process_uuid = uuid.uuid4()
        self.beats = 0

    @property
    def stale_after(self) -> float:
        return STALE_PERIODS * self.period

    def register(self, conn: psycopg.Connection) -> None:
        conn.execute(
            _REGISTER,
            {
                "process": self.process_uuid,
                "role": self.role,
                "namespaces": self.namespaces,
                "hostname": socket.gethostname(),
                "pid": os.getpid(),
                "stale_after": self.stale_after,
                "loops": self.loops,
            },
        )

    def tick(self, conn: psycopg.Connection) -> None:
        if self.chores is not None:
            self.chores(conn)
        if self.healthy():
            busy, completed = self.stats()
            conn.execute(_BEAT, {"process": self.process_uuid, "busy": busy, "completed": completed})
            self.beats += 1

    def run(self, stop: threading.Event) -> None:
        conn: psycopg.Connection | None = None
        try:
            while True:
                try:
                    if conn is None or conn.closed:
                        conn = connect(self.dsn, role=f"tasker-{self.role}-keeper", durable=False)
                        self.register(conn)
                    else:
                        self.tick(conn)
                except psycopg.OperationalError as exc:
                    log.warning("%s keeper: %s; reconnecting at the next tick", self.role, exc)
                    if conn is not None:
                        conn.close()
                    conn = None
                except Exception:
                    log.exception("%s keeper: a tick failed; trying again at the next one", self.role)
                if stop.wait(self.period):
                    break
        finally:
            if conn is not None and not conn.closed:
                with contextlib.suppress(psycopg.Error):
                    conn.execute(_DEREGISTER, (self.process_uuid,))
                conn.close()

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stop,), name=f"{self.role}-keeper", daemon=True)
        thread.start()
        return thread
