"""Sessions: summarize, report, export, compare of recorded labels.

posargs pass through to the harness command, e.g. `nox -s summarize -- --label pre-refactor` or
`nox -s compare -- --base pre-refactor --head post-refactor --strict`. `compare` exits 0 when every gate
holds, 1 when one failed, 2 on bad input.
"""

from __future__ import annotations

import nox

from sessions._common import PYTHON, harness, install_project


@nox.session(python=PYTHON)
def summarize(session: nox.Session) -> None:
    """summary.json, report.md and report.html of a label (-- --label L)."""
    install_project(session)
    harness(session, "summarize")


@nox.session(python=PYTHON)
def report(session: nox.Session) -> None:
    """Re-render a label's reports from its summary.json (-- --label L)."""
    install_project(session)
    harness(session, "report")


@nox.session(python=PYTHON)
def export(session: nox.Session) -> None:
    """A label as Bencher or github-action-benchmark JSON (-- --label L --format bencher|github --output F)."""
    install_project(session)
    harness(session, "export")


@nox.session(python=PYTHON)
def compare(session: nox.Session) -> None:
    """pre-refactor vs post-refactor (or -- --base A --head B [--strict]); exit 0 pass, 1 gate failed, 2 bad input."""
    install_project(session)
    harness(session, "compare")
