"""The tasker target: the one place in the harness that knows the reference engine's surfaces.

It runs `tasker` console commands (processes.py), loads the seeded dataset (dataset.py, imported lazily) and
describes what the benches time and check (workload.py). Registered in pyproject.toml under the entry-point
group `baseline.targets`, as any user's own target would be.
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

from baseline.targets.contract import ProcessRole, TargetError
from baseline.targets.tasker import processes
from baseline.targets.tasker.workload import TaskerWorkload


def engine_sql_files() -> list[Path]:
    """The engine's SQL files (any depth under tasker/sql), located without importing (executing) the engine."""
    spec = importlib.util.find_spec("tasker")
    if spec is None or not spec.submodule_search_locations:
        return []
    files: list[Path] = []
    for location in spec.submodule_search_locations:
        root = Path(location) / "sql"
        files.extend(sorted(root.rglob("*.sql"), key=lambda p: p.relative_to(root).as_posix()))
    return files


def _sql_relative(path: Path) -> str:
    parts = path.parts
    return "/".join(parts[len(parts) - 1 - parts[::-1].index("sql") :])


class TaskerTarget:
    name = "tasker"

    def __init__(self) -> None:
        self._workload = TaskerWorkload()

    @property
    def workload(self) -> TaskerWorkload:
        return self._workload

    def migrate(self, dsn: str) -> None:
        processes.run_migrate(dsn)

    def process_roles(self, dsn: str, api_port: int, workers: int, worker_concurrency: int) -> list[ProcessRole]:
        return processes.process_roles(dsn, api_port, workers, worker_concurrency)

    def load_dataset(self, dsn: str, scale: int, seed: int) -> dict[str, Any]:
        from baseline.targets.tasker.dataset import load_dataset  # the dataset's plan is big: loaded when needed

        return load_dataset(dsn, scale, seed)

    def lifecycle_test_command(self, quick: bool = False) -> list[str]:
        """pytest over tests/lifecycle; quick runs a quarter of the tests' repetitions (same code paths, less mass).

        `--assert=plain`: pytest's assertion rewriting of the test modules would otherwise be a part of the profile
        whenever its cache cannot be used (a fresh clone, or PYTHONDONTWRITEBYTECODE set; docs/findings/harness.md).
        """
        command = [sys.executable, "-m", "pytest", "tests/lifecycle", "-q", "-p", "no:cacheprovider", "--assert=plain"]
        return [*command, "--lifecycle-scale", "0.25"] if quick else command

    def schema_fingerprint(self) -> str:
        """sha256 over the engine's SQL files (names + bytes); `tasker migrate --print-version` as fallback."""
        files = engine_sql_files()
        if files:
            digest = hashlib.sha256()
            for path in files:
                digest.update(_sql_relative(path).encode() + b"\0" + path.read_bytes() + b"\0")
            return digest.hexdigest()
        try:
            command = [processes.tasker_executable(), "migrate", "--print-version"]
            out = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TargetError(f"cannot fingerprint the tasker schema: {exc}") from None
        if out.returncode != 0 or not out.stdout.strip():
            raise TargetError("cannot fingerprint the tasker schema: no SQL files found and --print-version failed")
        return hashlib.sha256(out.stdout.strip().encode()).hexdigest()
