"""Sessions: lifecycle profiling (py-spy over the lifecycle tests) and the table of a label's flamegraphs."""

from __future__ import annotations

import nox

from sessions._common import PYTHON, harness, install_project


@nox.session(python=PYTHON)
def lifecycle_profile(session: nox.Session) -> None:
    """py-spy over the engine's lifecycle tests -> profiles/<label>/run-<N>/profiles/lifecycle.* (+ lifecycle.json)."""
    install_project(session)
    harness(session, "lifecycle-profile")


@nox.session(python=PYTHON)
def profile_report(session: nox.Session) -> None:
    """Table of every flamegraph of a label with its top frames -> profiles/<label>/profiles.md."""
    install_project(session)
    harness(session, "profile-report")
