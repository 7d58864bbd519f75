"""Task creation latency: POST /v1/tasks over one keep-alive connection (benches.http), a unique correlation id each.

Paced: after each timed POST the bench waits, untimed, for that task's completion NOTIFY, so every sample meets
an idle engine. Back-to-back POSTs would pile up work faster than the engine finishes it, and the samples would
then measure a growing backlog (a drifting, machine-dependent load), not task creation.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import psycopg

from baseline.benches.common import BenchError, case_from, pin_backend, sampler_for
from baseline.benches.context import RunContext
from baseline.benches.http import HttpClient, HttpResponse

REQUEST_TIMEOUT_S = 30.0
COMPLETION_TIMEOUT_S = 30.0


def run_task_init(ctx: RunContext, extra: dict[str, Any]) -> list[dict[str, Any]]:
    """One case per workflow; every response must be 201 or the bench fails naming the response."""
    stack, workload = ctx.stack, ctx.workload
    sampler = sampler_for(ctx, "task_init")
    ctx.progress.expect_cases(len(workload.task_init_workflows) + 1)
    url = f"{stack.api_url.rstrip('/')}/v1/tasks"  # named in results and errors
    run_tag = uuid.uuid4().hex[:8]
    counter = itertools.count(1)
    cases: list[dict[str, Any]] = []
    channel = workload.completion_channel
    with HttpClient(stack.api_url, REQUEST_TIMEOUT_S) as client, psycopg.connect(stack.dsn, autocommit=True) as listen:
        listen.execute(f"LISTEN {channel}")
        pin_backend(ctx, extra, "listener", listen)

        def wait_done(task_uuid: str) -> None:
            for note in listen.notifies(timeout=COMPLETION_TIMEOUT_S):
                if note.payload == task_uuid:
                    return
            raise BenchError(f"task {task_uuid} sent no completion NOTIFY on {channel} in {COMPLETION_TIMEOUT_S:.0f} s")

        for key in workload.task_init_workflows:

            def body(key: str = key) -> dict[str, Any]:
                return workload.task_request(key, f"baseline-task-init-{run_tag}-{next(counter)}")

            def post(payload: dict[str, Any]) -> HttpResponse:
                return client.post_json("/v1/tasks", payload)

            def check(response: HttpResponse, key: str = key) -> None:
                if response.status_code != 201:
                    raise BenchError(
                        f"POST {url} ({key}) returned {response.status_code}, expected 201: {response.text[:300]}"
                    )
                wait_done(response.json()["task_uuid"])

            result = sampler.run(f"task_init/create_task/workflow={key}", post, setup=body, check=check)
            cases.append(
                case_from(result, {"workflow": key, "url": url, "keep_alive": True, "all_201": True, "paced": True})
            )

        # The HTTP floor of the same client and server: what any request costs before task creation starts.
        health = f"{stack.api_url.rstrip('/')}/health"
        floor = sampler.run("task_init/calibrate/get_health", lambda: client.get("/health"))
        cases.append(case_from(floor, {"url": health, "keep_alive": True}))
    return cases
