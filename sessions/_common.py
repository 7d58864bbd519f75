"""What every session shares: one project venv, installed once, and the harness CLI called through it."""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent.parent
PYTHON = "3.11"


def install_project(session: nox.Session, extras: str = "dev") -> None:
    """Editable install of the harness and the engine, skipped when the reused venv already has it."""
    marker = Path(session.virtualenv.location) / ".baseline-installed"
    stamp = (ROOT / "pyproject.toml").stat().st_mtime_ns
    if marker.exists() and marker.read_text() == f"{extras}:{stamp}":
        return
    session.install("-e", f"{ROOT}[{extras}]")
    marker.write_text(f"{extras}:{stamp}")


def harness(session: nox.Session, command: str, *args: str) -> None:
    """Run one `baseline` CLI command with the session's posargs passed through."""
    session.run("baseline", command, *args, *session.posargs)
