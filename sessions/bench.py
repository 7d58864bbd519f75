"""Sessions: the four benches; each runs one harness command in the shared project venv (posargs passed on)."""

from __future__ import annotations

import nox

from sessions._common import PYTHON, harness, install_project


@nox.session(python=PYTHON)
def sql_bench(session: nox.Session) -> None:
    """SQL function bench -> profiles/<label>/run-<N>/sql.json (+ explain/)."""
    install_project(session)
    harness(session, "sql-bench")


@nox.session(python=PYTHON)
def event_bench(session: nox.Session) -> None:
    """LISTEN/NOTIFY propagation bench -> .../event.json."""
    install_project(session)
    harness(session, "event-bench")


@nox.session(python=PYTHON)
def task_init_bench(session: nox.Session) -> None:
    """POST /v1/tasks latency -> .../task_init.json."""
    install_project(session)
    harness(session, "task-init-bench")


@nox.session(python=PYTHON)
def e2e_bench(session: nox.Session) -> None:
    """End-to-end workflow latency (POST -> completion NOTIFY) -> .../e2e.json (+ profiles with --profile)."""
    install_project(session)
    harness(session, "e2e-bench")
