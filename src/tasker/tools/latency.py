"""Quick latency check of a running-from-scratch engine: `python -m tasker.tools.latency --dsn DSN`.

Migrates DSN, starts api + orchestrator + workers as processes, then per workflow sends tasks one at a time and
records POST /v1/tasks latency and end-to-end latency (POST start -> completion NOTIFY on an open listener).
A developer's check of the engine's speed targets, not the harness's benchmark.
"""

from __future__ import annotations

import argparse
import statistics
import time

import psycopg
import requests

from tasker.db import COMPLETION_CHANNEL, resolve_dsn
from tasker.migrate import migrate
from tasker.tools.stack import EngineStack

WORKFLOWS = {
    "linear": ("linear_workflow", "mathematical_sequence"),
    "diamond": ("diamond_workflow", "diamond_pattern"),
    "complex_dag": ("complex_workflow", "complex_dag"),
    "hierarchical_tree": ("tree_workflow", "hierarchical_tree"),
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_one(session: requests.Session, url: str, listener: psycopg.Connection, key: str) -> tuple[float, float]:
    namespace, name = WORKFLOWS[key]
    body = {"namespace": namespace, "name": name, "version": "1.0.0", "context": {"even_number": 6}}
    t0 = time.perf_counter_ns()
    resp = session.post(f"{url}/v1/tasks", json=body, timeout=10)
    t_post = time.perf_counter_ns()
    resp.raise_for_status()
    task_uuid = resp.json()["task_uuid"]
    for note in listener.notifies(timeout=10):
        if note.payload == task_uuid:
            return (t_post - t0) / 1e6, (time.perf_counter_ns() - t0) / 1e6
    raise TimeoutError(f"task {task_uuid} ({key}) sent no completion NOTIFY within 10 s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tasker.tools.latency", description=__doc__)
    parser.add_argument("--dsn", help="database to use (it is migrated); default $TASKER_DATABASE_URL")
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--workflows", nargs="+", default=["linear", "diamond"], choices=sorted(WORKFLOWS))
    args = parser.parse_args(argv)
    dsn = resolve_dsn(args.dsn)
    migrate(dsn)
    with (
        EngineStack(dsn, workers=args.workers, worker_concurrency=args.concurrency) as stack,
        psycopg.connect(dsn, autocommit=True) as listener,
        requests.Session() as session,
    ):
        listener.execute(f"LISTEN {COMPLETION_CHANNEL}")
        header = ("workflow", "n", "post p50", "post p90", "e2e p50", "e2e p90", "e2e p99")
        print("{:<18} {:>4} {:>9} {:>9} {:>8} {:>8} {:>8}  (ms)".format(*header))
        for key in args.workflows:
            for _ in range(args.warmup):
                run_one(session, stack.api_url, listener, key)
            posts, e2es = [], []
            for _ in range(args.samples):
                post_ms, e2e_ms = run_one(session, stack.api_url, listener, key)
                posts.append(post_ms)
                e2es.append(e2e_ms)
            print(
                f"{key:<18} {len(e2es):>4} {statistics.median(posts):>9.2f} {percentile(posts, 0.9):>9.2f} "
                f"{statistics.median(e2es):>8.2f} {percentile(e2es, 0.9):>8.2f} {percentile(e2es, 0.99):>8.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
