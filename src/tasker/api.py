"""HTTP API (FastAPI): create tasks, read them, health. Task creation runs task_initializer in this process.

Bad input is answered with a 4xx that names what to fix, never a 500: unknown template -> 404, malformed body
-> 422 (FastAPI names the field), values PostgreSQL rejects (e.g. NUL characters) -> 422.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import psycopg
from fastapi import FastAPI, Path, Request
from fastapi.responses import JSONResponse
from psycopg_pool import ConnectionPool
from pydantic import BaseModel, ConfigDict, Field

from tasker.orchestration.lifecycle.task_initializer import (
    TaskRequest,
    TemplateCache,
    TemplateNotFound,
    initialize_task,
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
    "SELECT t.task_uuid, nt.name, ns.name, nt.version, c.status, c.execution_status, c.total_steps, "
    "c.pending_steps, c.in_progress_steps, c.completed_steps, c.failed_steps, c.ready_steps, c.completion_percentage "
    "FROM tasks t JOIN named_tasks nt ON nt.named_task_uuid = t.named_task_uuid "
    "JOIN task_namespaces ns ON ns.task_namespace_uuid = nt.task_namespace_uuid "
    "CROSS JOIN get_task_execution_context(t.task_uuid) c WHERE t.task_uuid = %s"
)
_STEPS_SQL = (
    "SELECT r.workflow_step_uuid, r.name, r.current_state, r.attempts, ws.results "
    "FROM get_step_readiness_status(%s) r JOIN workflow_steps ws ON ws.workflow_step_uuid = r.workflow_step_uuid "
    "ORDER BY ws.created_at, r.name"
)


def create_app(dsn: str, pool_size: int = 4) -> FastAPI:
    pool = ConnectionPool(
        dsn, min_size=2, max_size=pool_size, open=False, kwargs={"autocommit": True, "prepare_threshold": 1}
    )
    cache = TemplateCache()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool.open(wait=False)  # serve /health even while the database is down; /health/ready tells
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(title="tasker", lifespan=lifespan)
    app.state.pool = pool

    @app.exception_handler(psycopg.DataError)
    def data_error(_: Request, exc: psycopg.DataError) -> JSONResponse:
        return JSONResponse({"detail": f"a value was rejected by the database: {exc.diag.message_primary}"}, 422)

    @app.post("/v1/tasks", status_code=201)
    def create_task(body: CreateTask) -> JSONResponse:
        request = TaskRequest(**body.model_dump())
        try:
            with pool.connection() as conn:
                created = initialize_task(conn, request, cache)
        except TemplateNotFound as exc:
            return JSONResponse({"detail": str(exc)}, 404)
        payload = {"task_uuid": str(created.task_uuid), "status": created.status, "step_count": created.step_count}
        return JSONResponse(payload, 201 if created.created else 200)

    @app.get("/v1/tasks/{task_uuid}")
    def get_task(task_uuid: Annotated[uuid.UUID, Path()]) -> JSONResponse:
        with pool.connection() as conn:
            row = conn.execute(_TASK_SQL, (task_uuid,)).fetchone()
            if row is None:
                return JSONResponse({"detail": f"no task {task_uuid}"}, 404)
            steps = conn.execute(_STEPS_SQL, (task_uuid,)).fetchall()
        keys = [
            "task_uuid",
            "name",
            "namespace",
            "version",
            "status",
            "execution_status",
            "total_steps",
            "pending_steps",
            "in_progress_steps",
            "completed_steps",
            "failed_steps",
            "ready_steps",
            "completion_percentage",
        ]
        body = dict(zip(keys, row, strict=True))
        body["task_uuid"] = str(body["task_uuid"])
        body["completion_percentage"] = float(body["completion_percentage"])
        body["steps"] = [
            {"workflow_step_uuid": str(s[0]), "name": s[1], "current_state": s[2], "attempts": s[3], "results": s[4]}
            for s in steps
        ]
        return JSONResponse(body)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready")
    def ready() -> JSONResponse:
        try:
            with pool.connection(timeout=2.0) as conn:
                conn.execute("SELECT 1")
        except Exception as exc:  # any failure means "not ready", reported, never raised
            return JSONResponse({"status": "unavailable", "detail": str(exc)}, 503)
        return JSONResponse({"status": "ok"})

    return app
