"""Sessions: up, down, status, images, build, audit, tests, lint, typecheck (posargs pass through to the command).

All run in the one shared project venv (see sessions/_common.py), so running several in a row installs once.
`nox -s tests` is the README test command CI runs on a fresh machine.
"""

from __future__ import annotations

import nox

from sessions._common import PYTHON, ROOT, harness, install_project, run_in_venv


@nox.session(python=PYTHON)
def up(session: nox.Session) -> None:
    """Start the services (embedded by default; -- --services compose) on a fresh run database, leave them running."""
    install_project(session)
    harness(session, "up")


@nox.session(python=PYTHON)
def down(session: nox.Session) -> None:
    """Stop everything `up` started (processes, then the cluster; compose projects), and what a crashed run left."""
    install_project(session)
    harness(session, "down")


@nox.session(python=PYTHON)
def status(session: nox.Session) -> None:
    """Show the running stack: roles, PIDs, alive (reporting "nothing is up" is not a session failure)."""
    install_project(session)
    run_in_venv(session, "baseline", "status", *session.posargs, success_codes=[0, 1])


@nox.session(python=PYTHON)
def images(session: nox.Session) -> None:
    """Build the compose services' images (Debian base, PostgreSQL, engine) whose inputs changed; no registry."""
    install_project(session)
    harness(session, "images")


@nox.session(python=PYTHON)
def build(session: nox.Session) -> None:
    """Clean build in a fresh venv -> profiles/<label>/build.json (time, wheel sha256, versions)."""
    install_project(session)
    harness(session, "build")


@nox.session(python=PYTHON)
def audit(session: nox.Session) -> None:
    """Inventory of every registered bench (implemented or placeholder) -> profiles/inventory.md."""
    install_project(session)
    harness(session, "audit")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The test suite (unit, integration on an embedded PostgreSQL, lifecycle); posargs go to pytest."""
    install_project(session, "dev")
    run_in_venv(session, "python", "-m", "pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and format over the project, and the import-linter contracts of the architecture."""
    install_project(session, "dev")
    run_in_venv(session, "ruff", "check", str(ROOT))
    run_in_venv(session, "ruff", "format", "--check", str(ROOT))
    session.chdir(ROOT)
    run_in_venv(session, "lint-imports")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy over the harness and the engine (settings in pyproject.toml)."""
    install_project(session, "dev")
    session.chdir(ROOT)
    run_in_venv(session, "mypy", *(session.posargs or ["src/baseline", "src/tasker"]))
