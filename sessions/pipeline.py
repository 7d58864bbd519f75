"""Sessions that run whole pipelines: baseline_pre / baseline_post (the invoke three-run baseline), mark_run.

`nox -s baseline_pre -- --quick` passes its posargs to `invoke baseline` (--runs N, --only-run N, --quick,
--no-profile), so CI and people run the very same pipeline.
"""

from __future__ import annotations

import nox

from sessions._common import PYTHON, ROOT, harness, install_project, run_in_venv


def _invoke_baseline(session: nox.Session, label: str) -> None:
    install_project(session)
    session.chdir(ROOT)
    run_in_venv(session, "invoke", "baseline", "--label", label, *session.posargs)


@nox.session(python=PYTHON)
def baseline_pre(session: nox.Session) -> None:
    """Three-run baseline before the refactor -> profiles/pre-refactor/."""
    _invoke_baseline(session, "pre-refactor")


@nox.session(python=PYTHON)
def baseline_post(session: nox.Session) -> None:
    """Three-run baseline after the refactor -> profiles/post-refactor/."""
    _invoke_baseline(session, "post-refactor")


@nox.session(python=PYTHON)
def mark_run(session: nox.Session) -> None:
    """Record a run's status in profiles/<label>/manifest.json (used by the invoke pipeline)."""
    install_project(session)
    harness(session, "mark-run")
