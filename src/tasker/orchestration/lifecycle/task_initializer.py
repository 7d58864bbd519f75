"""task_initializer: a task, its steps, edges and initial transitions in one transaction, then wake the orchestrator.

Called by the API process itself so POST /v1/tasks can answer with the task uuid and step count. All statements
go out in one pipeline (one network round trip plus the commit).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg

from tasker.db import ORCHESTRATION_CHANNEL, Jsonb
from tasker.states import STEP_PENDING, TASK_PENDING
from tasker.templates import TaskTemplate


class TemplateNotFound(LookupError):
    """No named task matches (namespace, name, version)."""

    def __init__(self, namespace: str, name: str, version: str) -> None:
        super().__init__(f"no task template '{namespace}/{name}' version '{version}' is registered")
        self.namespace, self.name, self.version = namespace, name, version


@dataclass(frozen=True)
class TaskRequest:
    namespace: str
    name: str
    version: str
    context: dict[str, Any]
    initiator: str | None = None
    source_system: str | None = None
    reason: str | None = None
    tags: list[str] = field(default_factory=list)
    correlation_id: str | None = None
    priority: int = 0
    idempotency_key: str | None = None


@dataclass(frozen=True)
class InitializedTask:
    task_uuid: uuid.UUID
    step_count: int
    status: str
    created: bool  # False when an idempotency key returned an existing task


@dataclass(frozen=True)
class ResolvedTemplate:
    named_task_uuid: uuid.UUID
    template: TaskTemplate
    named_step_uuids: dict[str, uuid.UUID]


class TemplateCache:
    """Templates of one database, looked up once per process (they change only through `tasker migrate`)."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str, str], ResolvedTemplate] = {}
        self._lock = threading.Lock()

    def resolve(self, conn: psycopg.Connection, namespace: str, name: str, version: str) -> ResolvedTemplate:
        key = (namespace, name, version)
        found = self._items.get(key)
        if found is None:
            found = load_template(conn, namespace, name, version)
            with self._lock:
                self._items[key] = found
        return found


def load_template(conn: psycopg.Connection, namespace: str, name: str, version: str) -> ResolvedTemplate:
    row = conn.execute(
        "SELECT nt.named_task_uuid, nt.configuration FROM named_tasks nt "
        "JOIN task_namespaces ns ON ns.task_namespace_uuid = nt.task_namespace_uuid "
        "WHERE ns.name = %s AND nt.name = %s AND nt.version = %s",
        (namespace, name, version),
    ).fetchone()
    if row is None:
        raise TemplateNotFound(namespace, name, version)
    template = TaskTemplate.from_json(row[1])
    step_rows = conn.execute(
        "SELECT name, named_step_uuid FROM named_steps WHERE name = ANY(%s)", ([s.name for s in template.steps],)
    ).fetchall()
    return ResolvedTemplate(row[0], template, {n: u for n, u in step_rows})


def _existing(conn: psycopg.Connection, idempotency_key: str) -> InitializedTask | None:
    row = conn.execute(
        "SELECT t.task_uuid, (SELECT count(*) FROM workflow_steps ws WHERE ws.task_uuid = t.task_uuid), tt.to_state "
        "FROM tasks t JOIN task_transitions tt ON tt.task_uuid = t.task_uuid AND tt.most_recent "
        "WHERE t.idempotency_key = %s",
        (idempotency_key,),
    ).fetchone()
    return None if row is None else InitializedTask(row[0], int(row[1]), row[2], created=False)


def initialize_task(
    conn: psycopg.Connection, request: TaskRequest, cache: TemplateCache | None = None
) -> InitializedTask:
    """Create the task (or return the one holding the idempotency key) and NOTIFY the orchestrator."""
    resolved = (cache or TemplateCache()).resolve(conn, request.namespace, request.name, request.version)
    if request.idempotency_key is not None:
        existing = _existing(conn, request.idempotency_key)
        if existing is not None:
            return existing
    template = resolved.template
    task_uuid = uuid.uuid4()
    step_uuids = {s.name: uuid.uuid4() for s in template.steps}
    ids = [step_uuids[s.name] for s in template.steps]
    edges = [(step_uuids[dep], step_uuids[s.name]) for s in template.steps for dep in s.depends_on]
    try:
        with conn.pipeline(), conn.transaction():
            conn.execute(
                "INSERT INTO tasks (task_uuid, named_task_uuid, initiator, source_system, reason, tags, context, "
                "priority, correlation_id, idempotency_key) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    task_uuid,
                    resolved.named_task_uuid,
                    request.initiator,
                    request.source_system,
                    request.reason,
                    Jsonb(request.tags),
                    Jsonb(request.context),
                    request.priority,
                    request.correlation_id,
                    request.idempotency_key,
                ),
            )
            conn.execute(
                "INSERT INTO workflow_steps (workflow_step_uuid, task_uuid, named_step_uuid, retryable, max_attempts,"
                " inputs) SELECT u.id, %s, u.named, u.retryable, u.max_attempts, u.inputs "
                "FROM unnest(%s::uuid[], %s::uuid[], %s::bool[], %s::int[], %s::jsonb[]) "
                "AS u(id, named, retryable, max_attempts, inputs)",
                (
                    task_uuid,
                    ids,
                    [resolved.named_step_uuids[s.name] for s in template.steps],
                    [s.retryable for s in template.steps],
                    [s.max_attempts for s in template.steps],
                    [Jsonb({"handler": s.handler, "backoff_seconds": s.backoff_seconds}) for s in template.steps],
                ),
            )
            if edges:
                conn.execute(
                    "INSERT INTO workflow_step_edges (from_step_uuid, to_step_uuid) "
                    "SELECT * FROM unnest(%s::uuid[], %s::uuid[])",
                    ([e[0] for e in edges], [e[1] for e in edges]),
                )
            conn.execute(
                "INSERT INTO task_transitions (task_uuid, from_state, to_state, sort_key) VALUES (%s, NULL, %s, 0)",
                (task_uuid, TASK_PENDING),
            )
            conn.execute(
                "INSERT INTO workflow_step_transitions (workflow_step_uuid, from_state, to_state, sort_key) "
                "SELECT unnest(%s::uuid[]), NULL, %s, 0",
                (ids, STEP_PENDING),
            )
            conn.execute("SELECT pg_notify(%s, %s)", (ORCHESTRATION_CHANNEL, f"task:{task_uuid}"))
    except psycopg.errors.UniqueViolation:
        if request.idempotency_key is None:
            raise
        existing = _existing(conn, request.idempotency_key)  # lost a race for the same key
        if existing is None:
            raise
        return existing
    return InitializedTask(task_uuid, len(ids), TASK_PENDING, created=True)
