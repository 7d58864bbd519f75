"""What every session shares: ONE project venv, installed once, and the harness CLI called through it.

Why not nox's per-session venvs: each of the ~20 sessions would create and fill its own venv (about 30 s of
pip each on a fresh machine), and a pipeline runs many of them in a row. Instead every session is declared
`python=PYTHON` where PYTHON is False (nox makes no venv of its own), and `install_project` creates
`.nox/_shared` once with an interpreter >= 3.11 and installs the project editable with its extras into it.
A stamp file holding a hash of pyproject.toml and the extras skips the install while nothing changed, so
`nox -s sql_bench event_bench ...` pays for pip only on the very first session. `harness` and `run_in_venv`
run commands from that venv by absolute path, so nothing depends on the caller's PATH.
Delete `.nox/_shared` to force a clean reinstall.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nox
from nox.command import CommandFailed

ROOT = Path(__file__).resolve().parent.parent
PYTHON: bool = False  # sessions run in the shared venv below, not in a venv nox makes per session
VENV = Path(os.environ.get("BASELINE_NOX_VENV", ROOT / ".nox" / "_shared"))
MIN_PYTHON = (3, 11)
EXIT_BAD_INPUT = 2


def venv_bin(name: str) -> str:
    return str(VENV / "bin" / name)


def _base_python() -> str:
    """An interpreter >= 3.11 to create the shared venv from: nox's own, else python3.13..python3.11 on PATH."""
    if sys.version_info[:2] >= MIN_PYTHON:
        return sys.executable
    for name in ("python3.13", "python3.12", "python3.11"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("the project needs Python >= 3.11; install it (e.g. python3.11) and rerun nox")


def _pyproject_hash() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]


def install_project(session: nox.Session, extras: str = "dev") -> None:
    """Create the shared venv once and install the project (editable) when pyproject or the extras changed.

    The stamp keeps the union of extras installed so far, so sessions asking for different extras
    (dev, profile) do not reinstall in turn."""
    python = VENV / "bin" / "python"
    if not python.exists():
        session.log(f"creating the shared venv {VENV}")
        subprocess.run([_base_python(), "-m", "venv", str(VENV)], check=True)
    marker = VENV / ".baseline-installed"
    digest = _pyproject_hash()
    installed: set[str] = set()
    if marker.exists():
        recorded_extras, _, recorded_digest = marker.read_text().partition(":")
        if recorded_digest == digest:
            installed = {e for e in recorded_extras.split(",") if e}
    wanted = {e for e in extras.split(",") if e}
    if installed and wanted <= installed:
        return
    union = ",".join(sorted(installed | wanted))
    session.run(str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", f"{ROOT}[{union}]")
    marker.write_text(f"{union}:{digest}")


def run_in_venv(session: nox.Session, program: str, *args: str, **kwargs: object) -> object:
    """Run a console script or module runner of the shared venv, with its bin first on PATH."""
    env = {"VIRTUAL_ENV": str(VENV), "PATH": f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.update(kwargs.pop("env", {}) or {})  # type: ignore[call-overload]
    return session.run(venv_bin(program), *args, env=env, external=True, **kwargs)  # type: ignore[arg-type]


def dsn_to_env(posargs: list[str]) -> tuple[list[str], dict[str, str]]:
    """`--dsn VALUE` (or `--dsn=VALUE`) taken out of the arguments into BASELINE_DSN: nox prints every command line
    it runs, and a DSN may carry a password."""
    args, env = [], {}
    rest = iter(posargs)
    for arg in rest:
        if arg == "--dsn":
            env["BASELINE_DSN"] = next(rest, "")
        elif arg.startswith("--dsn="):
            env["BASELINE_DSN"] = arg.partition("=")[2]
        else:
            args.append(arg)
    return args, env


def harness(session: nox.Session, command: str, *args: str) -> None:
    """Run one `baseline` CLI command with the session's posargs passed through; its exit code reaches the caller.

    nox turns any failing command into its own exit 1, so bad input (2) leaves through SystemExit, which nox's
    session runner lets pass: CI and people see 0 success, 1 failed, 2 bad input from every session."""
    posargs, env = dsn_to_env(list(session.posargs))
    try:
        run_in_venv(session, "baseline", command, *args, *posargs, env=env)
    except CommandFailed as exc:
        if exc.return_code == EXIT_BAD_INPUT:
            session.log(f"baseline {command}: exit {EXIT_BAD_INPUT} (bad input; the message above says what to fix)")
            sys.exit(EXIT_BAD_INPUT)
        raise
