"""Task creation latency: the target's task client creates one task at a time (tasker: POST /v1/tasks over one
keep-alive connection), a unique correlation id each, and only the call itself is timed.

Paced: after each timed creation the bench waits, untimed, for that task's completion NOTIFY, so every sample meets
an idle engine. Back-to-back creations would pile up work faster than the engine finishes it, and the samples would
then measure a growing backlog (a drifting, machine-dependent load), not task creation.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import psycopg

from baseline.benches.common import BenchError, case_from, pin_backend, sampler_for
from baseline.benches.context import RunContext

COMPLETION_TIMEOUT_S = 30.0


def run_task_init(ctx: RunContext, extra: dict[str, Any]) -> list[dict[str, Any]]:
    """One case per workflow, every creation checked as accepted; then the client's floor (its cheapest round trip)."""
    stack, workload = ctx.stack, ctx.workload
    sampler = sampler_for(ctx, "task_init")
    ctx.progress.expect_cases(len(workload.task_init_workflows) + 1)
    run_tag = uuid.uuid4().hex[:8]
    counter = itertools.count(1)
    cases: list[dict[str, Any]] = []
    channel = workload.completion_channel
    client = workload.task_client(stack.dsn, stack.api_url)
    try:
        with psycopg.connect(stack.dsn, autocommit=True) as listen:
            listen.execute(f"LISTEN {channel}")
            pin_backend(ctx, extra, "listener", listen)

            def wait_done(task_id: str) -> None:
                for note in listen.notifies(timeout=COMPLETION_TIMEOUT_S):
                    if note.payload == task_id:
                        return
                raise BenchError(
                    f"task {task_id} sent no completion NOTIFY on {channel} in {COMPLETION_TIMEOUT_S:.0f} s"
                )

            for key in workload.task_init_workflows:

                def prepare(key: str = key) -> Any:
                    return client.prepare(key, f"baseline-task-init-{run_tag}-{next(counter)}")

                def check(answer: Any, key: str = key) -> None:
                    wait_done(client.accepted(key, answer))

                result = sampler.run(f"task_init/create_task/workflow={key}", client.submit, setup=prepare, check=check)
                meta = {"workflow": key, "endpoint": client.endpoint, "all_accepted": True, "paced": True}
                cases.append(case_from(result, meta))

            if client.floor_case:  # the same client's cheapest round trip: what any call costs before creation starts
                floor = sampler.run(client.floor_case, client.floor)
                cases.append(case_from(floor, {"endpoint": client.endpoint, "floor_of": "task_init/create_task"}))
    finally:
        client.close()
    return cases
