"""task_initializer: a task, its steps, edges and initial transitions in one statement, then wake the orchestrator.

Run by the API process itself (POST /v1/tasks, on its asyncio pool) so it can answer with the task uuid and step
count. The whole graph and the NOTIFY are one statement: one round trip and one (synchronous) commit.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import psycopg
from uuid6 import uuid7

from tasker.db import ORCHESTRATION_CHANNEL, Jsonb
from tasker.states import STEP_PENDING, TASK_PENDING
from tasker.templates import TaskTemplate


class IdempotencyConflict(ValueError):
    """An idempotency key already names a task that a different request created."""

    def __init__(self, key: str, task_uuid: uuid.UUID, differences: list[str]) -> None:
        super().__init__(
            f"idempotency key '{key}' is already used by task {task_uuid}, created by a different request "
            f"(it differs in {', '.join(differences)}): repeat that request to get its task, or use a new key"
        )
        self.key, self.task_uuid, self.differences = key, task_uuid, differences


class TemplateNotFound(LookupError):
    """No named task matches (namespace, name, version)."""

    def __init__(self, namespace: str, name: str, version: str) -> None:
        super().__init__(f"no task template '{namespace}/{name}' version '{version}' is registered")
        self.namespace, self.name, self.version = namespace, name, version


@dataclass(frozen=True, kw_only=True)
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

    @cached_property
    def literals(self) -> dict[str, str]:
        """The template's constant parameters of _CREATE as PostgreSQL literals, rendered once per process instead of
        psycopg adapting the same lists element by element on every request (docs/findings/engine.md)."""
        steps = self.template.steps
        position = {s.name: i for i, s in enumerate(steps, start=1)}
        edges = [(position[dep], position[s.name]) for s in steps for dep in s.depends_on]
        return {
            "named_steps": _array(str(self.named_step_uuids[s.name]) for s in steps),
            "retryable": _array("t" if s.retryable else "f" for s in steps),
            "max_attempts": _array(str(s.max_attempts) for s in steps),
            "inputs": json.dumps([{"handler": s.handler, "backoff_seconds": s.backoff_seconds} for s in steps]),
            "edge_from": _array(str(e[0]) for e in edges),
            "edge_to": _array(str(e[1]) for e in edges),
        }


def _array(items: Iterable[str]) -> str:
    return "{" + ",".join(items) + "}"


class TemplateCache:
    """Templates of one database, looked up once per process (they change only through `tasker migrate`).

    Used from the API's event loop only: a lookup that races another for the same key stores the same value."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str, str], ResolvedTemplate] = {}

    async def resolve_async(
        self, conn: psycopg.AsyncConnection, namespace: str, name: str, version: str
    ) -> ResolvedTemplate:
        key = (namespace, name, version)
        found = self._items.get(key)
        if found is None:
            cur = await conn.execute(_TEMPLATE_SQL, (namespace, name, version))
            row = await cur.fetchone()
            if row is None:
                raise TemplateNotFound(namespace, name, version)
            template = TaskTemplate.from_json(row[1])
            cur = await conn.execute(_STEPS_SQL, ([s.name for s in template.steps],))
            found = ResolvedTemplate(row[0], template, {n: u for n, u in await cur.fetchall()})
            self._items[key] = found
        return found


_TEMPLATE_SQL = (
    "SELECT nt.named_task_uuid, nt.configuration FROM named_tasks nt "
    "JOIN task_namespaces ns ON ns.task_namespace_uuid = nt.task_namespace_uuid "
    "WHERE ns.name = %s AND nt.name = %s AND nt.version = %s"
)
_STEPS_SQL = "SELECT name, named_step_uuid FROM named_steps WHERE name = ANY(%s)"


# The whole graph in one statement (one round trip, one commit); foreign keys are checked at its end.
_CREATE = """
WITH task AS (
    INSERT INTO tasks (task_uuid, named_task_uuid, initiator, source_system, reason, tags, context, priority,
                       correlation_id, idempotency_key)
    VALUES (%(task)s, %(named_task)s, %(initiator)s, %(source_system)s, %(reason)s, %(tags)s, %(context)s,
            %(priority)s, %(correlation_id)s, %(idempotency_key)s)
), steps AS (
    INSERT INTO workflow_steps (workflow_step_uuid, task_uuid, named_step_uuid, retryable, max_attempts, inputs)
    SELECT u.id, %(task)s, u.named, u.retryable, u.max_attempts, (%(inputs)s::jsonb) -> (u.n::integer - 1)
    FROM unnest(%(steps)s::uuid[], %(named_steps)s::uuid[], %(retryable)s::bool[], %(max_attempts)s::int[])
         WITH ORDINALITY AS u(id, named, retryable, max_attempts, n)
), edges AS (  -- edges as 1-based positions in the steps array
    INSERT INTO workflow_step_edges (from_step_uuid, to_step_uuid)
    SELECT (%(steps)s::uuid[])[e.f], (%(steps)s::uuid[])[e.t]
    FROM unnest(%(edge_from)s::int[], %(edge_to)s::int[]) AS e(f, t)
), task_state AS (
    INSERT INTO task_transitions (task_transition_uuid, task_uuid, from_state, to_state, sort_key)
    VALUES (%(task_transition)s, %(task)s, NULL, %(task_state)s, 0)
), step_states AS (
    INSERT INTO workflow_step_transitions (workflow_step_transition_uuid, workflow_step_uuid, from_state, to_state,
                                           sort_key)
    SELECT unnest(%(step_transitions)s::uuid[]), unnest(%(steps)s::uuid[]), NULL, %(step_state)s, 0
)
SELECT pg_notify(%(channel)s, %(payload)s)
"""


# The task holding an idempotency key, with what its request asked for (compared with a repeated request).
_EXISTING = (
    "SELECT t.task_uuid, (SELECT count(*) FROM workflow_steps ws WHERE ws.task_uuid = t.task_uuid), tt.to_state, "
    "t.named_task_uuid, t.context, t.tags, t.priority, t.initiator, t.source_system, t.reason, t.correlation_id "
    "FROM tasks t JOIN task_transitions tt ON tt.task_uuid = t.task_uuid AND tt.most_recent "
    "WHERE t.idempotency_key = %s"
)
_REQUEST_FIELDS = ("context", "tags", "priority", "initiator", "source_system", "reason", "correlation_id")


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values: 1 and 1.0 are one number, but true is not 1 (as Python's == would have it)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_json(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


async def _existing(
    conn: psycopg.AsyncConnection, request: TaskRequest, resolved: ResolvedTemplate
) -> InitializedTask | None:
    """The task already holding the request's idempotency key, or None; IdempotencyConflict when that task was
    created by a different request (another template, context or other field)."""
    cur = await conn.execute(_EXISTING, (request.idempotency_key,))
    row = await cur.fetchone()
    if row is None:
        return None
    task_uuid, steps, state, named_task, *stored = row
    differences = [] if named_task == resolved.named_task_uuid else ["namespace/name/version"]
    differences += [f for f, v in zip(_REQUEST_FIELDS, stored, strict=True) if not same_json(v, getattr(request, f))]
    if differences:
        raise IdempotencyConflict(str(request.idempotency_key), task_uuid, differences)
    return InitializedTask(task_uuid, int(steps), state, created=False)


def _create_params(request: TaskRequest, resolved: ResolvedTemplate) -> tuple[uuid.UUID, int, dict[str, Any]]:
    """(task uuid, step count, parameters of _CREATE) for a new task of a resolved template."""
    # Time-ordered keys (sql/schema.sql says why), every one made here: the column default, tasker_uuid7() in SQL,
    # made the statement slower (docs/findings/engine.md).
    task_uuid = uuid7()
    step_count = len(resolved.template.steps)
    params = {
        **resolved.literals,
        "task": task_uuid,
        "named_task": resolved.named_task_uuid,
        "initiator": request.initiator,
        "source_system": request.source_system,
        "reason": request.reason,
        "tags": Jsonb(request.tags),
        "context": Jsonb(request.context),
        "priority": request.priority,
        "correlation_id": request.correlation_id,
        "idempotency_key": request.idempotency_key,
        "steps": _array(str(uuid7()) for _ in range(step_count)),
        "task_transition": uuid7(),
        "step_transitions": _array(str(uuid7()) for _ in range(step_count)),
        "task_state": TASK_PENDING,
        "step_state": STEP_PENDING,
        "channel": ORCHESTRATION_CHANNEL,
        "payload": f"task:{task_uuid}",
    }
    return task_uuid, step_count, params


async def initialize_task_async(
    conn: psycopg.AsyncConnection, request: TaskRequest, cache: TemplateCache
) -> InitializedTask:
    """Create the task (or return the one holding the idempotency key) and NOTIFY the orchestrator.

    On an asyncio connection: the API serves requests on its event loop, with no thread-pool hop per request.
    Raises IdempotencyConflict when the key is held by a task a different request created."""
    resolved = await cache.resolve_async(conn, request.namespace, request.name, request.version)
    if request.idempotency_key is not None:
        existing = await _existing(conn, request, resolved)
        if existing is not None:
            return existing
    task_uuid, step_count, params = _create_params(request, resolved)
    try:
        await conn.execute(_CREATE, params)
    except psycopg.errors.UniqueViolation:
        if request.idempotency_key is None:
            raise
        existing = await _existing(conn, request, resolved)  # lost a race for the same key
        if existing is None:
            raise
        return existing
    return InitializedTask(task_uuid, step_count, TASK_PENDING, created=True)
