"""How the tasker engine is run as processes: console-script commands for migrate, api, orchestrator, workers.

Only the `tasker` console script is used (never `import tasker`), exactly as an operator would run it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from baseline.targets.contract import ProcessRole, TargetError


def tasker_executable(bin_dir: Path | None = None) -> str:
    """The `tasker` console script of `bin_dir` (a revision's venv), else next to this interpreter, else on PATH."""
    if bin_dir is not None:
        script = bin_dir / "tasker"
        if script.is_file():
            return str(script)
        raise TargetError(f"no `tasker` console script in {bin_dir}; rebuild that revision (remove its folder)")
    beside = Path(sys.executable).parent / "tasker"
    if beside.is_file():
        return str(beside)
    found = shutil.which("tasker")
    if found:
        return found
    raise TargetError(
        "the `tasker` console script was not found next to the Python interpreter or on PATH; "
        "install the project (`pip install -e .`) into this environment"
    )


def _dsn_env(dsn: str) -> dict[str, str]:
    """The engine reads its DSN from TASKER_DATABASE_URL: in the environment, a password never shows in argv."""
    return {"TASKER_DATABASE_URL": dsn}


def run_migrate(dsn: str, *, bin_dir: Path | None = None, timeout: float = 300) -> None:
    """`tasker migrate` as a process; TargetError with its output tail when it fails."""
    try:
        result = subprocess.run(
            [tasker_executable(bin_dir), "migrate"],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **_dsn_env(dsn)},
        )
    except subprocess.TimeoutExpired:
        raise TargetError(f"`tasker migrate` did not finish within {timeout:.0f} s") from None
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise TargetError(f"`tasker migrate` exited with {result.returncode}:\n{tail}")


def process_roles(
    dsn: str, api_port: int, workers: int, worker_concurrency: int, *, bin_dir: Path | None = None
) -> list[ProcessRole]:
    """api (health-checked over HTTP), orchestrator, worker-1..N; the DSN travels in the environment only."""
    exe = tasker_executable(bin_dir)
    env = {**_dsn_env(dsn), "PYTHONUNBUFFERED": "1"}
    roles = [
        ProcessRole(
            name="api",
            argv=[exe, "api", "--host", "127.0.0.1", "--port", str(api_port)],
            env=env,
            health_url=f"http://127.0.0.1:{api_port}/health/ready",
        ),
        ProcessRole(name="orchestrator", argv=[exe, "orchestrator"], env=env),
    ]
    for index in range(1, workers + 1):
        roles.append(
            ProcessRole(name=f"worker-{index}", argv=[exe, "worker", "--concurrency", str(worker_concurrency)], env=env)
        )
    return roles
