"""Sessions: summarize, compare, report, export (baseline_pre / baseline_post are added by the lead).

posargs pass through to the harness command, e.g. `nox -s summarize -- --label pre-refactor` or
`nox -s compare -- --base pre-refactor --head post-refactor --strict`.

`compare` exit codes reach the caller unchanged: 0 every gate holds, 1 a gate failed, 2 bad input.
nox's `session.run` raises on any code outside `success_codes` and nox itself would then exit 1 for
everything, so the session lets 0 and 1 through as nox's own success/failure and leaves on 2 with
`sys.exit(2)` (SystemExit passes through nox's session runner, which only catches Exception).
"""

from __future__ import annotations

import sys

import nox
from nox.command import CommandFailed

from sessions._common import PYTHON, harness, install_project

COMPARE_BAD_INPUT = 2


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
    try:
        harness(session, "compare")
    except CommandFailed as exc:
        if exc.return_code == COMPARE_BAD_INPUT:
            session.log("compare: exit 2 (bad input, or environments differ under --strict; see above)")
            sys.exit(COMPARE_BAD_INPUT)
        session.log(f"compare: a gate failed (exit {exc.return_code}); see the compare report")
        raise
