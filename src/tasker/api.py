"""HTTP API (FastAPI): create tasks, read them, health. Task creation runs task_initializer in this process.

Bad input is answered with a 4xx that names what to fix, never a 500: unknown template -> 404; malformed body
(invalid JSON or UTF-8 included) -> 422 naming the field, in FastAPI's format; values PostgreSQL rejects (e.g. NUL
characters) -> 422; an idempotency key reused by a different request -> 409 naming the key; a Content-Type other
than JSON -> 415; a body over the size limit -> 413. A 422 echoes an offending value only when it is short.
Endpoints are async on an asyncio connection pool: no thread-pool hop per request, and the body is validated
straight from its bytes by pydantic (model_validate_json) rather than parsed to Python objects first.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
import psycopg
from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.types import Receive, Scope, Send

from tasker.db import API_CONNECTION, allow_exact_numbers
from tasker.liveness import NAMESPACES_SQL, READY_SQL, LiveProcess, unready_reasons
from tasker.orchestration.lifecycle.task_initializer import (
    IdempotencyConflict,
    TaskRequest,
    TemplateCache,
    TemplateNotFound,
    initialize_task_async,
)

log = logging.getLogger("tasker.api")

INT32 = 2**31 - 1
#: Default largest POST /v1/tasks body, in bytes (`tasker api --max-body-bytes`).
MAX_BODY_BYTES = 1_048_576
#: A 422 echoes an offending value ("input") only when its JSON is at most this long, and cuts longer texts
#: (a field name, a message) to it: an error about a 10 MB body must not send the 10 MB back.
ECHO_LIMIT = 200

EXAMPLE_TASK: dict[str, Any] = {
    "namespace": "linear_workflow",
    "name": "mathematical_sequence",
    "version": "1.0.0",
    "context": {"even_number": 6},
}


class CreateTask(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [dict(EXAMPLE_TASK)]})

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

    @field_validator("priority", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: Any) -> Any:
        """A JSON number only: pydantic's lax mode would take true for 1 and "3" for 3 (3.0 is an integer)."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"priority must be an integer, not {type(value).__name__}")
        return value


# Response shapes: documentation for /openapi.json (the endpoints write their bodies themselves).
class TaskCreated(BaseModel):
    task_uuid: uuid.UUID
    status: str
    step_count: int


class StepView(BaseModel):
    workflow_step_uuid: uuid.UUID
    name: str
    current_state: str
    attempts: int
    results: Any = Field(description="the handler's result (a JSON number of any size), or {error, attempt}")


class TaskView(BaseModel):
    task_uuid: uuid.UUID
    name: str
    namespace: str
    version: str
    status: str
    execution_status: str
    total_steps: int
    pending_steps: int
    in_progress_steps: int
    completed_steps: int
    failed_steps: int
    ready_steps: int
    completion_percentage: float
    steps: list[StepView]


class ErrorItem(BaseModel):
    type: str
    loc: list[str | int]
    msg: str
    input: Any = None
    ctx: dict[str, Any] | None = None


class Problem(BaseModel):
    detail: str | list[ErrorItem]


class Health(BaseModel):
    status: str
    detail: str | None = None


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


_CREATE_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"model": TaskCreated, "description": "the task was created"},
    200: {"model": TaskCreated, "description": "the task already holding this idempotency key (same request)"},
    404: _problem("no such template (namespace, name, version)"),
    409: _problem("the idempotency key is held by a task a different request created"),
    413: _problem("the body is larger than the API accepts"),
    415: _problem("the body is not declared as JSON (Content-Type application/json)"),
    422: _problem("a malformed body, naming the field; or a value the database refuses"),
    503: _problem("the database is unavailable"),
}
_CREATE_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": CreateTask.model_json_schema(), "example": EXAMPLE_TASK}},
    }
}

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

Answer = tuple[int, bytes]


def create_app(dsn: str, pool_size: int = 4, max_body_bytes: int = MAX_BODY_BYTES) -> FastCreate:
    allow_exact_numbers()  # results are JSON numbers of any size jsonb holds (tasker.db)
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

    @app.exception_handler(RequestValidationError)
    def invalid_request(_: Request, exc: RequestValidationError) -> Response:
        return Response(validation_problem(exc.errors()), 422, media_type="application/json")

    @app.exception_handler(psycopg.DataError)
    def data_error(_: Request, exc: psycopg.DataError) -> Response:
        code, payload = rejected(exc)
        return Response(payload, code, media_type="application/json")

    async def create(raw: bytes) -> Answer:
        """Validate a POST /v1/tasks body and create the task: (status code, JSON body), errors included."""
        try:
            body = CreateTask.model_validate_json(raw)  # straight from the bytes, one pass
        except ValidationError as exc:  # FastAPI's 422 format, located under "body" as FastAPI would
            return 422, validation_problem(exc.errors(include_url=False), ("body",))
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
        except IdempotencyConflict as exc:
            return 409, orjson.dumps({"detail": str(exc)})
        except psycopg.DataError as exc:
            return rejected(exc)
        except (ValueError, RecursionError) as exc:  # a value the JSON encoder refuses
            return 422, orjson.dumps({"detail": f"a value cannot be stored as JSON: {_cut(str(exc))}"})
        except (psycopg.OperationalError, PoolTimeout) as exc:
            return 503, orjson.dumps({"detail": f"the database is unavailable: {_cut(str(exc))}"})
        # A fixed shape of plain values: formatted directly instead of through a JSON encoder.
        payload = f'{{"task_uuid":"{created.task_uuid}","status":"{created.status}","step_count":{created.step_count}}}'
        return (201 if created.created else 200), payload.encode()

    async def answer(content_type: bytes | None, raw: bytes) -> Answer:
        if content_type != b"application/json" and not is_json(content_type):
            return unsupported(content_type)
        if len(raw) > max_body_bytes:
            return too_large(max_body_bytes)
        return await create(raw)

    # The route FastAPI serves (and documents); FastCreate below answers every POST /v1/tasks before FastAPI's
    # layers, with the same `answer`.
    @app.post("/v1/tasks", status_code=201, responses=_CREATE_RESPONSES, openapi_extra=_CREATE_OPENAPI)
    async def create_task(request: Request) -> Response:
        content_type = request.headers.get("content-type")
        code, payload = await answer(content_type.encode("latin-1") if content_type else None, await request.body())
        return Response(payload, code, media_type="application/json")

    @app.get(
        "/v1/tasks/{task_uuid}",
        response_model=TaskView,
        responses={404: _problem("no task with this uuid"), 503: _problem("the database is unavailable")},
    )
    async def get_task(task_uuid: Annotated[uuid.UUID, Path()]) -> Response:
        """The task's columns and its steps', named as in the SELECTs."""
        try:
            async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
                body = await (await cur.execute(_TASK_SQL, (task_uuid,))).fetchone()
                if body is None:
                    return JSONResponse({"detail": f"no task {task_uuid}"}, 404)
                steps = await (await cur.execute(_STEPS_SQL, {"task": task_uuid})).fetchall()
        except (psycopg.OperationalError, PoolTimeout) as exc:
            return JSONResponse({"detail": f"the database is unavailable: {_cut(str(exc))}"}, 503)
        body["task_uuid"] = str(body["task_uuid"])
        body["completion_percentage"] = float(body["completion_percentage"])
        body["steps"] = [{**s, "workflow_step_uuid": str(s["workflow_step_uuid"])} for s in steps]
        return JSONResponse(body)

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: 200 while the process serves HTTP."""
        return {"status": "ok"}

    @app.get(
        "/health/ready",
        response_model=Health,
        responses={503: {"model": Health, "description": "not ready, and why"}},
    )
    async def ready() -> JSONResponse:
        """Readiness: 200 when a task posted now would run. The database answers, an orchestrator is live, and every
        namespace of a registered template is served by a live worker (a live process: its heartbeat connection is
        open and its heartbeat fresh; docs/engine.md, "Health"). Else 503 naming what is missing."""
        try:
            async with pool.connection(timeout=2.0) as conn:
                live = [LiveProcess(role, tuple(ns)) for role, ns in await (await conn.execute(READY_SQL)).fetchall()]
                namespaces = [row[0] for row in await (await conn.execute(NAMESPACES_SQL)).fetchall()]
        except Exception as exc:  # any failure means "not ready", reported, never raised
            return JSONResponse({"status": "unavailable", "detail": _cut(str(exc))}, 503)
        reasons = unready_reasons(live, namespaces)
        if reasons:
            return JSONResponse({"status": "unavailable", "detail": "; ".join(reasons)}, 503)
        return JSONResponse({"status": "ok"})

    return FastCreate(app, create, max_body_bytes)


def is_json(content_type: bytes | None) -> bool:
    """application/json or application/<anything>+json, with no charset or UTF-8 (RFC 8259: JSON is UTF-8)."""
    if not content_type:
        return False
    media, _, params = content_type.decode("latin-1").partition(";")
    media = media.strip().lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        return False
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return False
    return True


def unsupported(content_type: bytes | None) -> Answer:
    shown = _cut(content_type.decode("latin-1")) if content_type else "none"
    return 415, orjson.dumps({"detail": f"send the body as JSON with Content-Type application/json (got {shown})"})


def too_large(limit: int) -> Answer:
    return 413, orjson.dumps({"detail": f"the body is larger than {limit} bytes, the most this API accepts"})


def rejected(exc: psycopg.DataError) -> Answer:
    """The reply to a value PostgreSQL refuses (e.g. a NUL character): 422 naming the database's reason."""
    reason = _cut(exc.diag.message_primary or str(exc))
    return 422, orjson.dumps({"detail": f"a value was rejected by the database: {reason}"})


def _cut(text: str, limit: int = ECHO_LIMIT) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


_OMIT = object()


def _echo(value: Any) -> Any:
    """`value` for a 422's "input" if its JSON is short, else _OMIT (never the whole of a large body)."""
    if isinstance(value, bytes | bytearray):
        if len(value) > ECHO_LIMIT:
            return _OMIT
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return _OMIT
    try:
        encoded = orjson.dumps(value)
    except (TypeError, ValueError):  # e.g. an integer wider than 64 bits
        return _OMIT
    return value if len(encoded) <= ECHO_LIMIT else _OMIT


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    return _cut(str(value))


def validation_problem(errors: Iterable[Mapping[str, Any]], prefix: tuple[str, ...] = ()) -> bytes:
    """A 422 body in FastAPI's format ({"detail": [{type, loc, msg, input, ctx}]}), with long texts cut and an
    input echoed only when short."""
    detail = []
    for error in errors:
        item: dict[str, Any] = {
            "type": str(error.get("type", "")),
            "loc": [*prefix, *(x if isinstance(x, int) else _cut(str(x)) for x in error.get("loc", ()))],
            "msg": _cut(str(error.get("msg", ""))),
        }
        echoed = _echo(error.get("input"))
        if echoed is not _OMIT:
            item["input"] = echoed
        ctx = error.get("ctx")
        if isinstance(ctx, Mapping):
            item["ctx"] = {str(k): _plain(v) for k, v in ctx.items()}
        detail.append(item)
    return orjson.dumps({"detail": detail})


class FastCreate:
    """ASGI wrapper answering POST /v1/tasks itself: the hot request skips FastAPI's middleware, routing and
    request objects, a large share of the API's CPU per task (docs/findings/engine.md). It checks the declared
    Content-Type and the body's size (refusing a declared Content-Length over the limit before reading anything),
    as the FastAPI route's `answer` does, then answers with the same `create`; everything else goes to FastAPI
    untouched."""

    def __init__(self, app: FastAPI, create: Callable[[bytes], Awaitable[Answer]], limit: int) -> None:
        self.app = app
        self.create = create
        self.limit = limit
        self.state = app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/v1/tasks":
            await self.app(scope, receive, send)
            return
        content_type = declared = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                declared = value
        if content_type != b"application/json" and not is_json(content_type):
            await _reply(send, *unsupported(content_type), close=True)
            return
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _reply(send, *too_large(self.limit), close=True)
            return
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client gone
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _reply(send, *too_large(self.limit), close=True)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        code, payload = await self.create(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        await _reply(send, code, payload)


async def _reply(send: Send, code: int, payload: bytes, close: bool = False) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if close:  # the body was not read: the connection cannot carry another request
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": code, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
