"""The orchestrator process: woken by NOTIFY on tasker_orchestration, with a slow poll as a safety net.

Payload `task:<uuid>`: a new task -> enqueue its ready steps. Payload `result`: one result was submitted ->
process one from the results queue. The poll (about 1 s) finds tasks left behind (retry backoff elapsed,
missed notifications) through get_next_ready_tasks and drains the results queue; a poll that comes back with
a full batch polls again at once, so a backlog (a restart after downtime) drains at the engine's own pace
instead of one batch per second.

A keeper thread with a connection of its own (tasker.liveness) writes the process's heartbeat for /health/ready
while the loop keeps turning. Only a lost connection ends the loop; a hand-off that fails is logged and retried by
the poll.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import psycopg

from tasker.db import ORCHESTRATION_CHANNEL, connect
from tasker.liveness import HEARTBEAT_INTERVAL, Keeper
from tasker.orchestration.lifecycle import result_processor, step_enqueuer

log = logging.getLogger("tasker.orchestrator")
T = TypeVar("T")


@dataclass
class OrchestratorStats:
    tasks_started: int = 0
    results_processed: int = 0
    polls: int = 0


class Orchestrator:
    def __init__(self, dsn: str, poll_interval: float = 1.0, batch_size: int = 10, durable: bool = False) -> None:
        self.dsn = dsn
        self.durable = durable
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.processor_uuid = uuid.uuid4()
        self.stats = OrchestratorStats()
        self.tick = 0.0  # time.monotonic() of the loop's latest turn, read by the keeper thread

    def start_task(self, conn: psycopg.Connection, task_uuid: uuid.UUID | str) -> list[str]:
        """Enqueue the ready steps of one task (one statement, its own transaction); finalize it if nothing can run."""
        started = step_enqueuer.start_task(conn, task_uuid, self.processor_uuid)
        if started is None or started.enqueued is None:
            return []
        self.stats.tasks_started += 1
        return started.enqueued

    def drain_results(self, conn: psycopg.Connection, limit: int | None = None) -> int:
        """Process queued results until the queue is empty (or `limit` were processed)."""
        count = 0
        while limit is None or count < limit:
            self.tick = time.monotonic()
            if result_processor.process_next_result(conn, self.processor_uuid) is None:
                break
            count += 1
        self.stats.results_processed += count
        return count

    def poll(self, conn: psycopg.Connection) -> int:
        """Safety net: tasks with ready steps that no notification brought (e.g. a retry backoff elapsed)."""
        self.stats.polls += 1
        with conn.transaction():
            rows = conn.execute(
                "SELECT task_uuid, namespace_name, current_state FROM get_next_ready_tasks(%s)", (self.batch_size,)
            ).fetchall()
            for task_uuid, namespace, state in rows:
                step_enqueuer.enqueue_ready_steps(
                    conn, step_enqueuer.TaskRef(task_uuid, namespace, state), self.processor_uuid
                )
        return len(rows)

    def keeper(self, heartbeat_interval: float = HEARTBEAT_INTERVAL) -> Keeper:
        """The process's heartbeat: live while the loop turned within the stale window (it turns at least once per
        poll interval, and once per result while it drains a backlog)."""
        window = [0.0]

        def healthy() -> bool:
            return time.monotonic() - self.tick < window[0]

        keeper = Keeper(
            self.dsn,
            role="orchestrator",
            period=heartbeat_interval,
            healthy=healthy,
            stats=lambda: (0, self.stats.results_processed),
        )
        window[0] = max(keeper.stale_after, 3 * self.poll_interval)
        return keeper

    def run(self, stop: threading.Event | None = None, heartbeat_interval: float | None = HEARTBEAT_INTERVAL) -> None:
        """The loop; with `heartbeat_interval` (not None) its keeper thread runs beside it."""
        stop = stop or threading.Event()
        keeper_stop = threading.Event()
        keeper = None if heartbeat_interval is None else self.keeper(heartbeat_interval).start(keeper_stop)
        try:
            self._loop(stop)
        finally:
            keeper_stop.set()
            if keeper is not None:
                keeper.join(timeout=2.0)  # deregisters the process

    def _loop(self, stop: threading.Event) -> None:
        with connect(self.dsn, role="tasker-orchestrator", durable=self.durable) as conn:
            conn.execute(f"LISTEN {ORCHESTRATION_CHANNEL}")
            log.info("orchestrator %s listening on %s", self.processor_uuid, ORCHESTRATION_CHANNEL)
            next_poll = 0.0
            new_tasks: list[str] = []
            results_due = 0  # one NOTIFY per submitted result: process that many, no empty pop after them
            while not stop.is_set():
                self.tick = time.monotonic()
                for task_uuid in new_tasks:
                    self._guard(conn, self.start_task, task_uuid)
                new_tasks.clear()
                if results_due:
                    self._guard(conn, self.drain_results, results_due)
                    results_due = 0
                if time.monotonic() >= next_poll:
                    found = self._guard(conn, self.poll)
                    self._guard(conn, self.drain_results)
                    backlog = found is not None and found >= self.batch_size
                    next_poll = time.monotonic() + (0.0 if backlog else self.poll_interval)
                timeout = max(0.0, min(next_poll - time.monotonic(), self.poll_interval))
                for note in conn.notifies(timeout=timeout, stop_after=1):
                    if note.payload.startswith("task:"):
                        new_tasks.append(note.payload[5:])
                    else:
                        results_due += 1

    def _guard(self, conn: psycopg.Connection, fn: Callable[..., T], *args: object) -> T | None:
        """One bad task or message must not stop the loop; its transaction rolled back, the poll retries it.

        Returns what `fn` returned, or None when it failed."""
        try:
            return fn(conn, *args)
        except Exception as exc:
            if isinstance(exc, psycopg.OperationalError) and (conn.broken or conn.closed):
                raise  # the connection is lost: the process ends (a deadlock or a cancelled statement does not)
            log.exception("orchestrator step failed: %s%r", getattr(fn, "__name__", fn), args)
            return None
