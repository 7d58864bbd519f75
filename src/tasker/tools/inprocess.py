"""Drive the real orchestrator and worker code in one process, one hand-off at a time (tests, profiling)."""

from __future__ import annotations

import psycopg

from tasker.orchestration.orchestrator import Orchestrator
from tasker.worker import Worker


def run_until_idle(conn: psycopg.Connection, orchestrator: Orchestrator, worker: Worker, max_hops: int = 1000) -> int:
    """Alternate worker steps and result processing until neither has work; returns the steps executed."""
    executed = 0
    for _ in range(max_hops):
        ran = worker.run_one(conn)
        executed += int(ran)
        processed = orchestrator.drain_results(conn)
        if not ran and not processed:
            return executed
    raise RuntimeError(f"still busy after {max_hops} hand-offs")
