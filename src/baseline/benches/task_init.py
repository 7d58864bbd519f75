"""Task creation latency: POST /v1/tasks over one keep-alive requests.Session, a unique correlation id each time."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import requests

from baseline.benches.common import BenchError, case_from, sampler_for, workload_of

WORKFLOWS = ("linear", "diamond")
REQUEST_TIMEOUT_S = 30.0


def run_task_init(config: Any, stack: Any, extra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One case per workflow; every response must be 201 or the bench fails naming the response."""
    workload = workload_of(stack)
    sampler = sampler_for(config, "task_init")
    url = f"{stack.api_url.rstrip('/')}/v1/tasks"
    run_tag = uuid.uuid4().hex[:8]
    counter = itertools.count(1)
    cases: list[dict[str, Any]] = []
    with requests.Session() as session:
        for key in WORKFLOWS:

            def body(key: str = key) -> dict[str, Any]:
                return workload.task_request(key, f"baseline-task-init-{run_tag}-{next(counter)}")

            def post(payload: dict[str, Any]) -> requests.Response:
                return session.post(url, json=payload, timeout=REQUEST_TIMEOUT_S)

            def check(response: requests.Response, key: str = key) -> None:
                if response.status_code != 201:
                    raise BenchError(
                        f"POST {url} ({key}) returned {response.status_code}, expected 201: {response.text[:300]}"
                    )

            result = sampler.run(f"task_init/create_task/workflow={key}", post, setup=body, check=check)
            cases.append(case_from(result, {"workflow": key, "url": url, "keep_alive": True, "all_201": True}))
    return cases
