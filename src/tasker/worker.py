"""The worker process: claim a step message, run its handler, submit the result to the orchestrator.

Two statements and two commits per step: (1) claim with FOR UPDATE SKIP LOCKED and a visibility timeout,
attempts + 1, in_progress, parents' results (get_step_transitive_dependencies); (2) queue delete and, while this
claim still holds the step, result message + enqueued_for_orchestration + NOTIFY.
The step message is deleted only in (2): a worker killed in between loses nothing, the message becomes
visible again when its timeout passes and another worker runs the step again.

Nothing a step brings can stop a worker: whatever its handler raises, a result that cannot be encoded or that
PostgreSQL refuses, an input that cannot be decoded, each becomes the step's error result, retried as its template
says. A step whose earlier attempts never returned (their worker died mid-step) is failed at its claim once its
attempts are used up, so even a step that kills its worker outright is tried at most max_attempts times.
A claim is a lease: each worker process's keeper thread (tasker.liveness) extends the visibility timeout of a step
that has run for a third of it, so a long step runs once while its worker lives, and it writes the process's
heartbeat for /health/ready. A result whose claim was taken over meanwhile is dropped (_SUBMIT).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from tasker.db import NUMERIC_MAX_DIGITS, ORCHESTRATION_CHANNEL, Jsonb, allow_exact_numbers, connect, step_channel
from tasker.handlers import StepCall, run_handler
from tasker.liveness import HEARTBEAT_INTERVAL, Keeper
from tasker.orchestration.lifecycle.result_processor import RESULT_KIND
from tasker.states import STEP_ENQUEUED_AS_ERROR, STEP_ENQUEUED_FOR_ORCHESTRATION
from tasker.templates import load_bundled_templates

log = logging.getLogger("tasker.worker")

# Claim the oldest visible message of our namespaces, start its step (attempts + 1, in_progress) and read the
# parents' results, in one statement and one commit. A message whose step is no longer waiting to run (a duplicate)
# comes back with a NULL step and is deleted. The task context and the parents' results come as text, decoded by
# claim() itself (as psycopg would), so an input that cannot be decoded fails its step instead of the worker.
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
    RETURNING ws.workflow_step_uuid, ws.task_uuid, ws.attempts, ws.max_attempts, ws.retryable, ws.inputs
), moved AS (
    SELECT tasker_transition_step(
        s.workflow_step_uuid, 'in_progress', jsonb_build_object('worker_id', %(worker)s::text, 'attempt', s.attempts))
    FROM step s
), parents AS (
    SELECT coalesce(jsonb_object_agg(d.step_name, d.results), '{}'::jsonb) AS results
    FROM step s CROSS JOIN LATERAL get_step_transitive_dependencies(s.workflow_step_uuid) d
    WHERE d.distance = 1
)
SELECT c.msg_id, c.message, s.workflow_step_uuid, s.attempts, s.max_attempts, s.retryable, s.inputs,
       t.context::text, p.results::text,
       (SELECT count(*) FROM moved),
       EXISTS (SELECT 1 FROM step_queue_messages m
               WHERE m.namespace = ANY(%(namespaces)s) AND m.vt <= clock_timestamp() AND m.msg_id <> c.msg_id)
FROM claimed c
LEFT JOIN step s ON true
LEFT JOIN tasks t ON t.task_uuid = s.task_uuid
LEFT JOIN parents p ON s.workflow_step_uuid IS NOT NULL
"""
# Queue delete and, while this claim still holds the step, result message + step transition + NOTIFY: one
# statement, one commit. The claim holds the step while its current transition is the `in_progress` row that claim
# wrote (the attempt in its metadata): the compare is the UPDATE of that row, so a claim and a submit racing for one
# step serialise on it, and a result whose claim was taken over (after its visibility timeout) or whose step moved
# on is dropped: no row comes back, and a late duplicate never changes a finished step. (As in
# tasker_transition_step, the new current row is inserted after the old one's most_recent is cleared.)
_SUBMIT = """
WITH done AS (
    DELETE FROM step_queue_messages WHERE msg_id = %(msg_id)s
), held AS (
    UPDATE workflow_step_transitions SET most_recent = false
    WHERE workflow_step_uuid = %(step)s AND most_recent AND to_state = 'in_progress'
      AND metadata->>'attempt' = %(attempt)s::text
    RETURNING sort_key
), moved AS (
    INSERT INTO workflow_step_transitions (workflow_step_uuid, from_state, to_state, sort_key, most_recent)
    SELECT %(step)s, 'in_progress', %(state)s, sort_key + 1, true FROM held
), result AS (
    INSERT INTO orchestration_queue_messages (kind, message) SELECT %(kind)s, %(message)s FROM held RETURNING msg_id
)
SELECT pg_notify(%(channel)s, 'result') FROM result
"""
# A keeper's claim extension: the steps still running keep their messages hidden for another visibility timeout.
_EXTEND = (
    "UPDATE step_queue_messages SET vt = clock_timestamp() + make_interval(secs => %(vt)s) "
    "WHERE msg_id = ANY(%(ids)s) RETURNING msg_id"
)
#: An error text longer than this is cut (an exception can carry a whole input in its message).
ERROR_TEXT_LIMIT = 2000


def default_namespaces() -> list[str]:
    return sorted({t.namespace for t in load_bundled_templates()})


def describe(exc: BaseException) -> str:
    """An exception as a step's error text: one line, at most ERROR_TEXT_LIMIT characters, storable in jsonb (no
    NUL, no lone surrogate)."""
    text = "".join(traceback.format_exception_only(exc)).strip()
    if len(text) > ERROR_TEXT_LIMIT:
        text = f"{text[:ERROR_TEXT_LIMIT]}... ({len(text)} characters)"
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


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
    failure: str | None = None  # set when the step fails without running: its error text


class Worker:
    """One claim loop. `test_hooks` runs the handlers in the engine's test mode (the context's `_fail_attempts` and
    `_sleep_ms` apply, tasker.handlers); `tasker worker` sets it from TASKER_TEST_HOOKS=1."""

    def __init__(
        self,
        dsn: str,
        namespaces: list[str] | None = None,
        visibility_timeout: float = 30.0,
        poll_interval: float = 1.0,
        durable: bool = False,
        test_hooks: bool = False,
    ) -> None:
        allow_exact_numbers()
        self.dsn = dsn
        self.namespaces = namespaces or default_namespaces()
        self.visibility_timeout = visibility_timeout
        self.poll_interval = poll_interval
        self.durable = durable
        self.test_hooks = test_hooks
        self.worker_id = str(uuid.uuid4())
        self.completed = 0
        # Read by the process's keeper thread (plain attribute stores here, nothing on the step's path waits on it):
        self.alive = False  # the claim loop is running
        self.tick = 0.0  # time.monotonic() of the loop's latest turn
        self.held: tuple[int, float] | None = None  # (msg_id, claimed at) of the step running now

    def claim(self, conn: psycopg.Connection) -> ClaimedStep | None:
        """Claim one message and move its step to in_progress (one commit). None when nothing is visible."""
        params = {"vt": self.visibility_timeout, "namespaces": self.namespaces, "worker": self.worker_id}
        while True:
            row = conn.execute(_CLAIM, params).fetchone()
            if row is None:
                return None
            msg_id, message, step_uuid, attempt, max_attempts, retryable, inputs, context, parents, _, more = row
            if step_uuid is None:
                conn.execute("DELETE FROM step_queue_messages WHERE msg_id = %s", (msg_id,))
                continue
            failure = None
            allowed = max_attempts if retryable else 1
            if attempt > allowed:
                failure = (
                    f"attempt {attempt} of a step allowed {allowed}: its earlier attempts never returned a result "
                    "(their worker died or lost its claim mid-step)"
                )
                context = parents = None
            else:
                try:
                    context = json.loads(context) if context is not None else {}
                    parents = json.loads(parents) if parents is not None else {}
                except Exception as exc:  # e.g. nesting deeper than Python's recursion limit
                    failure = f"the step's input could not be decoded: {describe(exc)}"
                    context = parents = None
            return ClaimedStep(
                msg_id=msg_id,
                task_uuid=message["task_uuid"],
                step_uuid=step_uuid,
                step_name=message["step_name"],
                attempt=attempt,
                handler=(inputs or {}).get("handler", "math"),
                context=context or {},
                parent_results=parents or {},
                more=more,
                failure=failure,
            )

    def execute(self, step: ClaimedStep) -> dict[str, Any]:
        """Run the handler; an exception becomes an error result (retried per the template)."""
        base = {"task_uuid": step.task_uuid, "step_uuid": str(step.step_uuid), "attempt": step.attempt}
        if step.failure is not None:
            return {**base, "status": "error", "error": step.failure}
        call = StepCall(step.step_name, step.attempt, step.context, step.parent_results)
        try:
            return {**base, "status": "success", "result": run_handler(step.handler, call, self.test_hooks)}
        except Exception as exc:
            return {**base, "status": "error", "error": describe(exc)}

    def submit(self, conn: psycopg.Connection, step: ClaimedStep, result: dict[str, Any]) -> bool:
        """Hand the result to the orchestrator (one statement, one commit) and drop the step message. False when
        the result was dropped: this claim no longer holds the step (another worker took it over, or it is done)."""
        state = STEP_ENQUEUED_FOR_ORCHESTRATION if result["status"] == "success" else STEP_ENQUEUED_AS_ERROR
        params = {
            "msg_id": step.msg_id,
            "step": step.step_uuid,
            "attempt": step.attempt,
            "state": state,
            "kind": RESULT_KIND,
            "message": Jsonb({**result, "worker_id": self.worker_id}),
            "channel": ORCHESTRATION_CHANNEL,
        }
        return conn.execute(_SUBMIT, params).fetchone() is not None

    def deliver(self, conn: psycopg.Connection, step: ClaimedStep, result: dict[str, Any]) -> bool:
        """submit(), and if the result cannot be submitted (not encodable as JSON, an integer longer than jsonb
        holds, a value PostgreSQL refuses), submit the step's error result saying why instead."""
        try:
            return self.submit(conn, step, result)
        except Exception as exc:
            if _broken(conn, exc):
                raise
            if isinstance(exc, ValueError) and "integer string conversion" in str(exc):
                why = f"it holds an integer of more than {NUMERIC_MAX_DIGITS} digits, more than a jsonb number holds"
            else:
                why = describe(exc)
            error = f"the step's result could not be submitted: {why}"
        log.warning("worker %s: step %s attempt %d: %s", self.worker_id, step.step_uuid, step.attempt, error)
        fallback = {k: result[k] for k in ("task_uuid", "step_uuid", "attempt")}
        return self.submit(conn, step, {**fallback, "status": "error", "error": error})

    def run_one(self, conn: psycopg.Connection, wakeups: Wakeups | None = None) -> bool:
        return self._run_one(conn, wakeups) is not None

    def _run_one(self, conn: psycopg.Connection, wakeups: Wakeups | None) -> ClaimedStep | None:
        step = self.claim(conn)
        if step is None:
            return None
        if wakeups is not None and step.more:
            wakeups.notify()  # another idle loop claims the next message while this one runs its step
        self.held = (step.msg_id, time.monotonic())
        try:
            taken = self.deliver(conn, step, self.execute(step))
        finally:
            self.held = None
        if not taken:
            log.warning(
                "worker %s: step %s attempt %d: result dropped: this claim no longer holds the step (it was taken "
                "over after its visibility timeout, or is done)",
                self.worker_id,
                step.step_uuid,
                step.attempt,
            )
        self.completed += 1
        return step

    def run(self, stop: threading.Event | None = None, wakeups: Wakeups | None = None) -> None:
        """Claim loop. With `wakeups`, a process-wide listener wakes it (see Wakeups); alone, it LISTENs itself.

        After a step it claims again at once only if its claim saw more visible messages: anything enqueued later
        comes with a NOTIFY, so the usual re-claim would only find the queue empty (one wasted statement per step).
        Only a lost connection ends the loop; any other failure is logged and the step's message is redelivered
        after its visibility timeout.
        """
        stop = stop or threading.Event()
        with connect(self.dsn, role="tasker-worker", durable=self.durable) as conn:
            if wakeups is None:
                listen(conn, self.namespaces)
            log.info("worker %s serving %s", self.worker_id, ", ".join(self.namespaces))
            self.alive = True
            try:
                while not stop.is_set():
                    self.tick = time.monotonic()
                    try:
                        step = self._run_one(conn, wakeups)
                        if step is not None and step.more:
                            continue
                    except Exception as exc:
                        if _broken(conn, exc):
                            raise
                        log.exception("worker %s: a claim or submit failed; its step is redelivered", self.worker_id)
                    if wakeups is not None:
                        wakeups.wait(self.poll_interval)
                    else:
                        for _ in conn.notifies(timeout=self.poll_interval, stop_after=1):
                            pass
            finally:
                self.alive = False


def _broken(conn: psycopg.Connection, exc: BaseException) -> bool:
    """Whether `exc` lost the connection (the loop cannot go on), rather than failed one statement."""
    return isinstance(exc, psycopg.OperationalError) and (conn.broken or conn.closed)


class ClaimKeeper:
    """The claim extensions and health of one worker process's loops, run by its keeper thread (tasker.liveness).

    A step held for a third of the visibility timeout gets its message hidden for another timeout, and again a
    third later: a step that finishes sooner costs no statement at all. The process is healthy while every loop
    runs and is consuming: running a step, or back from its latest claim or wait within the stale window."""

    def __init__(self, loops: list[Worker], visibility_timeout: float) -> None:
        self.loops = loops
        self.visibility_timeout = visibility_timeout
        self.extend_after = visibility_timeout / 3
        self.extended: dict[int, float] = {}  # msg_id -> time.monotonic() of its latest extension
        self.extensions = 0
        self.window = 0.0  # set by worker_keeper: how old a loop's latest turn may be

    def chores(self, conn: psycopg.Connection) -> None:
        now = time.monotonic()
        held = dict(h for h in (w.held for w in self.loops) if h is not None)
        self.extended = {m: t for m, t in self.extended.items() if m in held}
        due = [m for m, since in held.items() if now - self.extended.get(m, since) >= self.extend_after]
        if not due:
            return
        rows = conn.execute(_EXTEND, {"vt": self.visibility_timeout, "ids": due}).fetchall()
        for msg_id in due:
            self.extended[msg_id] = now
        self.extensions += len(rows)
        log.debug("extended the claims of messages %s", [r[0] for r in rows])

    def healthy(self) -> bool:
        now = time.monotonic()
        return all(w.alive and (w.held is not None or now - w.tick < self.window) for w in self.loops)

    def stats(self) -> tuple[int, int]:
        return sum(w.held is not None for w in self.loops), sum(w.completed for w in self.loops)


def worker_keeper(
    dsn: str, loops: list[Worker], visibility_timeout: float, heartbeat_interval: float = HEARTBEAT_INTERVAL
) -> tuple[Keeper, ClaimKeeper]:
    """The keeper of a worker process: a tick every min(heartbeat interval, visibility timeout / 3) seconds."""
    claims = ClaimKeeper(loops, visibility_timeout)
    keeper = Keeper(
        dsn,
        role="worker",
        period=max(0.05, min(heartbeat_interval, visibility_timeout / 3)),
        healthy=claims.healthy,
        stats=claims.stats,
        namespaces=loops[0].namespaces,
        loops=len(loops),
        chores=claims.chores,
    )
    claims.window = max(keeper.stale_after, 3 * max(w.poll_interval for w in loops))
    return keeper, claims


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
    test_hooks: bool = False,
    heartbeat_interval: float = HEARTBEAT_INTERVAL,
) -> None:
    """`concurrency` claim loops (one connection each) woken by one listener, and the process's keeper thread
    (claim extensions, heartbeat); returns when `stop` is set or a thread dies."""
    stop = stop or threading.Event()
    loops = [
        Worker(dsn, namespaces, visibility_timeout, durable=durable, test_hooks=test_hooks)
        for _ in range(max(1, concurrency))
    ]
    if test_hooks:
        log.warning("test mode: the step handlers obey the test hooks of task contexts (_fail_attempts, _sleep_ms)")
    keeper, _ = worker_keeper(dsn, loops, visibility_timeout, heartbeat_interval)
    keeper_thread = keeper.start(stop)
    try:
        if len(loops) == 1:
            loops[0].run(stop)
            return
        _run_loops(dsn, loops, stop)
    finally:
        stop.set()
        keeper_thread.join(timeout=2.0)  # deregisters the process


def _run_loops(dsn: str, loops: list[Worker], stop: threading.Event) -> None:
    wakeups = Wakeups()
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
