"""The worker process: claim a step message, run its handler, submit the result to the orchestrator.

Two statements and two commits per step: (1) claim with FOR UPDATE SKIP LOCKED and a visibility timeout,
attempts + 1, in_progress, parents' results (get_step_transitive_dependencies); (2) result message +
enqueued_for_orchestration + queue delete + NOTIFY.
The step message is deleted only in (2): a worker killed in between loses nothing, the message becomes
visible again when its timeout passes and another worker runs the step again.
"""

from __future__ import annotations

import logging
import threading
import traceback
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from tasker.db import ORCHESTRATION_CHANNEL, Jsonb, connect, step_channel
from tasker.handlers import StepCall, run_handler
from tasker.orchestration.lifecycle.result_processor import RESULT_KIND
from tasker.states import STEP_ENQUEUED_AS_ERROR, STEP_ENQUEUED_FOR_ORCHESTRATION
from tasker.templates import load_bundled_templates

log = logging.getLogger("tasker.worker")

# Claim the oldest visible message of our namespaces, start its step (attempts + 1, in_progress) and read the
# parents' results, in one statement and one commit. A message whose step is no longer waiting to run (a duplicate)
# comes back with a NULL step and is deleted.
_CLAIM = """
WITH claimed AS (
    UPDATE step_queue_messages
    SET vt = clock_timestamp() + make_interval(secs => %(vt)s), read_ct = read_ct + 1
    WHERE msg_id = (
        SELECT msg_id FROM step_queue_messages
        WHERE namespace = ANY(%(namespaces)s) AND vt <= clock_timestamp()
        ORDER BY msg_id LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING msg_id, message
), step AS (
    UPDATE workflow_steps ws
    SET attempts = ws.attempts + 1, last_attempted_at = now(), in_process = true, updated_at = now()
    FROM claimed c
    WHERE ws.workflow_step_uuid = (c.message->>'step_uuid')::uuid
      AND EXISTS (SELECT 1 FROM workflow_step_transitions st
                  WHERE st.workflow_step_uuid = ws.workflow_step_uuid AND st.most_recent
                    AND st.to_state IN ('enqueued', 'in_progress'))
    RETURNING ws.workflow_step_uuid, ws.task_uuid, ws.attempts, ws.inputs
), moved AS (
    SELECT tasker_transition_step(
        s.workflow_step_uuid, 'in_progress', jsonb_build_object('worker_id', %(worker)s::text, 'attempt', s.attempts))
    FROM step s
), parents AS (
    SELECT coalesce(jsonb_object_agg(d.step_name, d.results), '{}'::jsonb) AS results
    FROM step s CROSS JOIN LATERAL get_step_transitive_dependencies(s.workflow_step_uuid) d
    WHERE d.distance = 1
)
SELECT c.msg_id, c.message, s.workflow_step_uuid, s.attempts, s.inputs, t.context, p.results,
       (SELECT count(*) FROM moved),
       EXISTS (SELECT 1 FROM step_queue_messages m
               WHERE m.namespace = ANY(%(namespaces)s) AND m.vt <= clock_timestamp() AND m.msg_id <> c.msg_id)
FROM claimed c
LEFT JOIN step s ON true
LEFT JOIN tasks t ON t.task_uuid = s.task_uuid
LEFT JOIN parents p ON s.workflow_step_uuid IS NOT NULL
"""
# Result message, step transition, queue delete and NOTIFY: one statement, one commit.
_SUBMIT = """
WITH result AS (
    INSERT INTO orchestration_queue_messages (kind, message) VALUES (%(kind)s, %(message)s) RETURNING msg_id
), done AS (
    DELETE FROM step_queue_messages WHERE msg_id = %(msg_id)s
), moved AS (
    SELECT tasker_transition_step(%(step)s, %(state)s) AS from_state
)
SELECT pg_notify(%(channel)s, 'result') FROM result, moved
"""


def default_namespaces() -> list[str]:
    return sorted({t.namespace for t in load_bundled_templates()})


@dataclass(frozen=True, kw_only=True)
class ClaimedStep:
    msg_id: int
    task_uuid: str
    step_uuid: uuid.UUID
    step_name: str
    attempt: int
    handler: str
    context: dict[str, Any]
    parent_results: dict[str, Any]
    more: bool = False  # another message was visible when this one was claimed


class Worker:
    def __init__(
        self,
        dsn: str,
        namespaces: list[str] | None = None,
        visibility_timeout: float = 30.0,
        poll_interval: float = 1.0,
        durable: bool = False,
    ) -> None:
        self.dsn = dsn
        self.namespaces = namespaces or default_namespaces()
        self.visibility_timeout = visibility_timeout
        self.poll_interval = poll_interval
        self.durable = durable
        self.worker_id = str(uuid.uuid4())
        self.completed = 0

    def claim(self, conn: psycopg.Connection) -> ClaimedStep | None:
        """Claim one message and move its step to in_progress (one commit). None when nothing is visible."""
        params = {"vt": self.visibility_timeout, "namespaces": self.namespaces, "worker": self.worker_id}
        while True:
            row = conn.execute(_CLAIM, params).fetchone()
            if row is None:
                return None
            msg_id, message, step_uuid, attempt, inputs, context, parents, _, more = row
            if step_uuid is None:
                conn.execute("DELETE FROM step_queue_messages WHERE msg_id = %s", (msg_id,))
                continue
            return ClaimedStep(
                msg_id=msg_id,
                task_uuid=message["task_uuid"],
                step_uuid=step_uuid,
                step_name=message["step_name"],
                attempt=attempt,
                handler=(inputs or {}).get("handler", "math"),
                context=context,
                parent_results=parents or {},
                more=more,
            )

    def execute(self, step: ClaimedStep) -> dict[str, Any]:
        """Run the handler; an exception becomes an error result (retried per the template)."""
        call = StepCall(step.step_name, step.attempt, step.context, step.parent_results)
        base = {"task_uuid": step.task_uuid, "step_uuid": str(step.step_uuid), "attempt": step.attempt}
        try:
            return {**base, "status": "success", "result": run_handler(step.handler, call)}
        except Exception as exc:
            detail = "".join(traceback.format_exception_only(exc)).strip()
            return {**base, "status": "error", "error": detail}

    def submit(self, conn: psycopg.Connection, step: ClaimedStep, result: dict[str, Any]) -> None:
        """Hand the result to the orchestrator (one statement, one commit) and drop the step message."""
        state = STEP_ENQUEUED_FOR_ORCHESTRATION if result["status"] == "success" else STEP_ENQUEUED_AS_ERROR
        params = {
            "kind": RESULT_KIND,
            "message": Jsonb({**result, "worker_id": self.worker_id}),
            "msg_id": step.msg_id,
            "step": step.step_uuid,
            "state": state,
            "channel": ORCHESTRATION_CHANNEL,
        }
        conn.execute(_SUBMIT, params)

    def run_one(self, conn: psycopg.Connection, wakeups: Wakeups | None = None) -> bool:
        return self._run_one(conn, wakeups) is not None

    def _run_one(self, conn: psycopg.Connection, wakeups: Wakeups | None) -> ClaimedStep | None:
        step = self.claim(conn)
        if step is None:
            return None
        if wakeups is not None and step.more:
            wakeups.notify()  # another idle loop claims the next message while this one runs its step
        self.submit(conn, step, self.execute(step))
        self.completed += 1
        return step

    def run(self, stop: threading.Event | None = None, wakeups: Wakeups | None = None) -> None:
        """Claim loop. With `wakeups`, a process-wide listener wakes it (see Wakeups); alone, it LISTENs itself.

        After a step it claims again at once only if its claim saw more visible messages: anything enqueued later
        comes with a NOTIFY, so the usual re-claim would only find the queue empty (one wasted statement per step).
        """
        stop = stop or threading.Event()
        with connect(self.dsn, role="tasker-worker", durable=self.durable) as conn:
            if wakeups is None:
                listen(conn, self.namespaces)
            log.info("worker %s serving %s", self.worker_id, ", ".join(self.namespaces))
            while not stop.is_set():
                try:
                    step = self._run_one(conn, wakeups)
                    if step is not None and step.more:
                        continue
                except psycopg.OperationalError:
                    raise
                except psycopg.Error:
                    log.exception("worker %s: step failed to claim or submit; it will be redelivered", self.worker_id)
                if wakeups is not None:
                    wakeups.wait(self.poll_interval)
                else:
                    for _ in conn.notifies(timeout=self.poll_interval, stop_after=1):
                        pass


def listen(conn: psycopg.Connection, namespaces: list[str]) -> None:
    for namespace in namespaces:
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(step_channel(namespace))))


class Wakeups:
    """One LISTEN connection per worker process, waking one idle claim loop per notification.

    With every loop LISTENing itself, each step NOTIFY woke all of them (in every worker process) and all but one
    ran an empty claim: CPU on both sides on a CPU-bound machine. Here a notification wakes one loop; a loop whose
    claim saw more visible messages wakes the next one (fan-out runs in parallel). Loops also wake
    every poll interval (messages whose visibility timeout expired, missed notifications).
    """

    def __init__(self) -> None:
        self._pending = threading.Semaphore(0)

    def notify(self) -> None:
        self._pending.release()

    def wait(self, timeout: float) -> None:
        self._pending.acquire(timeout=timeout)
        # Several notifications for one burst (one per enqueue transaction) must not wake loops in a cascade of
        # empty claims: whoever runs now claims until the queue is empty, so drop the surplus.
        while self._pending.acquire(blocking=False):
            pass

    def listen_forever(self, dsn: str, namespaces: list[str], stop: threading.Event) -> None:
        with connect(dsn, role="tasker-worker-listener") as conn:
            listen(conn, namespaces)
            while not stop.is_set():
                for _ in conn.notifies(timeout=0.5):
                    self.notify()


def run_workers(
    dsn: str,
    concurrency: int = 1,
    namespaces: list[str] | None = None,
    visibility_timeout: float = 30.0,
    stop: threading.Event | None = None,
    durable: bool = False,
) -> None:
    """`concurrency` claim loops (one connection each) woken by one listener; returns when `stop` is set or a
    thread dies."""
    stop = stop or threading.Event()
    if concurrency <= 1:
        Worker(dsn, namespaces, visibility_timeout, durable=durable).run(stop)
        return
    wakeups = Wakeups()
    loops = [Worker(dsn, namespaces, visibility_timeout, durable=durable) for _ in range(concurrency)]
    threads = [
        threading.Thread(
            target=wakeups.listen_forever, args=(dsn, loops[0].namespaces, stop), name="worker-listener", daemon=True
        )
    ]
    threads += [
        threading.Thread(target=w.run, args=(stop, wakeups), name=f"worker-{i}", daemon=True)
        for i, w in enumerate(loops)
    ]
    for t in threads:
        t.start()
    while not stop.is_set() and all(t.is_alive() for t in threads):
        stop.wait(0.5)
    crashed = not stop.is_set()
    stop.set()
    if crashed:
        raise SystemExit("a worker thread died (see its traceback above); stopping the worker process")
