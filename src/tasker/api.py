"""HTTP API (FastAPI): create tasks, read them, health. Task creation runs task_initializer in this process.

Bad input is answered with a 4xx that names what to fix, never a 500: unknown template -> 404, malformed body
-> 422 (naming the field, in FastAPI's format), values PostgreSQL rejects (e.g. NUL characters) -> 422.
Endpoints are async on an asyncio connection pool: no thread-pool hop per request, and the body is validated
straight from its bytes by pydantic (model_validate_json) rather than parsed to Python objects first.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
import psycopg
from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.types import Message, Receive, Scope, Send

from tasker.db import API_CONNECTION
from tasker.orchestration.lifecycle.task_initializer import (
    TaskRequest,
    TemplateCache,
    TemplateNotFound,
    initialize_task_async,
)

log = logging.getLogger("tasker.api")

INT32 = 2**31 - 1


class CreateTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    namespace: str = Field(min_length=1, max_length=200)
    version: str = Field(min_length=1, max_length=50)
    context: dict[str, Any]
    initiator: str | None = Field(default=None, max_length=500)
    source_system: str | None = Field(default=None, max_length=500)
    reason: str | None = Field(default=None, max_length=2000)
    tags: list[str] = Field(default_factory=list, max_length=100)
    correlation_id: str | None = Field(default=None, max_length=200)
    priority: int = Field(default=0, ge=-INT32, le=INT32)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)


_TASK_SQL = (
    "SELECT t.task_uuid, nt.name, ns.name AS namespace, nt.version, c.status, c.execution_status, c.total_steps, "
    "c.pending_steps, c.in_progress_steps, c.completed_steps, c.failed_steps, c.ready_steps, c.completion_percentage "
    "FROM tasks t JOIN named_tasks nt ON nt.named_task_uuid = t.named_task_uuid "
    "JOIN task_namespaces ns ON ns.task_namespace_uuid = nt.task_namespace_uuid "
    "CROSS JOIN get_task_execution_context(t.task_uuid) c WHERE t.task_uuid = %s"
)
# The task filter on ws, not only inside the function: the planner guesses 1,000 rows for a function and would
# hash-join them against a sequential scan of every step (docs/findings/engine.md).
_STEPS_SQL = (
    "SELECT r.workflow_step_uuid, r.name, r.current_state, r.attempts, ws.results "
    "FROM get_step_readiness_status(%(task)s) r "
    "JOIN workflow_steps ws ON ws.workflow_step_uuid = r.workflow_step_uuid AND ws.task_uuid = %(task)s "
    "ORDER BY ws.created_at, r.name"
)


def create_app(dsn: str, pool_size: int = 4) -> FastCreate:
    # One connection until concurrent requests need more (the pool grows on demand): sequential requests then reuse
    # the backend that ran the previous one instead of rotating through idle ones, and a backend idle for longer
    # wakes slower on a VM (docs/findings/engine.md, "This VM's wake-up cost").
    pool = AsyncConnectionPool(
        dsn,
        min_size=1,
        max_size=pool_size,
        open=False,
        kwargs=dict(API_CONNECTION),
    )
    cache = TemplateCache()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=False)  # serve /health even while the database is down; /health/ready tells
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(title="tasker", lifespan=lifespan)
    app.state.pool = pool

    @app.exception_handler(psycopg.DataError)
    def data_error(_: Request, exc: psycopg.DataError) -> Response:
        code, payload = rejected(exc)
        return Response(payload, code, media_type="application/json")

    async def create(raw: bytes) -> tuple[int, bytes]:
        """Validate a POST /v1/tasks body and create the task: (status code, JSON body). Raises ValidationError for
        a malformed body and psycopg.DataError for values PostgreSQL refuses."""
        body = CreateTask.model_validate_json(raw)  # straight from the bytes, one pass
        task_request = TaskRequest(
            namespace=body.namespace,
            name=body.name,
            version=body.version,
            context=body.context,
            initiator=body.initiator,
            source_system=body.source_system,
            reason=body.reason,
            tags=body.tags,
            correlation_id=body.correlation_id,
            priority=body.priority,
            idempotency_key=body.idempotency_key,
        )
        try:
            async with pool.connection() as conn:
                created = await initialize_task_async(conn, task_request, cache)
        except TemplateNotFound as exc:
            return 404, orjson.dumps({"detail": str(exc)})
        # A fixed shape of plain values: formatted directly instead of through a JSON encoder.
        payload = f'{{"task_uuid":"{created.task_uuid}","status":"{created.status}","step_count":{created.step_count}}}'
        return (201 if created.created else 200), payload.encode()

    # The route FastAPI serves (and documents); FastCreate below answers valid requests before FastAPI's layers.
    @app.post("/v1/tasks", status_code=201, openapi_extra={"requestBody": {"required": True}})
    async def create_task(request: Request) -> Response:
        try:
            code, payload = await create(await request.body())
        except ValidationError as exc:  # FastAPI's own 422 format, located under "body" as FastAPI would
            errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
            raise RequestValidationError(errors) from None
        return Response(payload, code, media_type="application/json")

    @app.get("/v1/tasks/{task_uuid}")
    async def get_task(task_uuid: Annotated[uuid.UUID, Path()]) -> JSONResponse:
        """The task's columns and its steps', named as in the SELECTs."""
        async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            body = await (await cur.execute(_TASK_SQL, (task_uuid,))).fetchone()
            if body is None:
                return JSONResponse({"detail": f"no task {task_uuid}"}, 404)
            steps = await (await cur.execute(_STEPS_SQL, {"task": task_uuid})).fetchall()
        body["task_uuid"] = str(body["task_uuid"])
        body["completion_percentage"] = float(body["completion_percentage"])
        body["steps"] = [{**s, "workflow_step_uuid": str(s["workflow_step_uuid"])} for s in steps]
        return JSONResponse(body)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready")
    async def ready() -> JSONResponse:
        try:
            async with pool.connection(timeout=2.0) as conn:
                await conn.execute("SELECT 1")
        except Exception as exc:  # any failure means "not ready", reported, never raised
            return JSONResponse({"status": "unavailable", "detail": str(exc)}, 503)
        return JSONResponse({"status": "ok"})

    return FastCreate(app, create)


def rejected(exc: psycopg.DataError) -> tuple[int, bytes]:
    """The reply to a value PostgreSQL refuses (e.g. a NUL character): 422 naming the database's reason."""
    return 422, orjson.dumps({"detail": f"a value was rejected by the database: {exc.diag.message_primary}"})


class FastCreate:
    """ASGI wrapper answering POST /v1/tasks itself: the hot request skips FastAPI's middleware, routing and
    request objects, a large share of the API's CPU per task (docs/findings/engine.md). A body that fails
    validation is replayed to the FastAPI route, so every error keeps FastAPI's exact 422; everything else goes to
    FastAPI untouched."""

    def __init__(self, app: FastAPI, create: Callable[[bytes], Awaitable[tuple[int, bytes]]]) -> None:
        self.app = app
        self.create = create
        self.state = app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/v1/tasks":
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client gone
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        try:
            code, payload = await self.create(raw)
        except ValidationError:
            await self.app(scope, _replay(raw), send)
            return
        except psycopg.DataError as exc:
            code, payload = rejected(exc)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": code, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def _replay(raw: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    return receive
