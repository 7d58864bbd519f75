"""The tasker adapter: the one place in the harness that knows the reference engine's surfaces.

It runs `tasker` console commands, names the completion NOTIFY channel and delegates dataset and workload
knowledge to `dataset.py` / `workload.py` (imported lazily so plumbing commands never load them).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from baseline.targets.base import ProcessRole, TargetError
from baseline.targets.tasker import processes


def engine_sql_files() -> list[Path]:
    """The engine's migration files, located without importing (executing) the engine package."""
    spec = importlib.util.find_spec("tasker")
    if spec is None or not spec.submodule_search_locations:
        return []
    files: list[Path] = []
    for location in spec.submodule_search_locations:
        files.extend(sorted((Path(location) / "sql").glob("*.sql")))
    return files


class TaskerTarget:
    name = "tasker"
    completion_channel = "tasker_task_completed"

    def migrate(self, dsn: str) -> None:
        processes.run_migrate(dsn)

    def process_roles(self, dsn: str, api_port: int, workers: int, worker_concurrency: int) -> list[ProcessRole]:
        return processes.process_roles(dsn, api_port, workers, worker_concurrency)

    def load_dataset(self, dsn: str, scale: int, seed: int) -> dict[str, Any]:
        dataset = importlib.import_module("baseline.targets.tasker.dataset")
        return dataset.load_dataset(dsn, scale, seed)

    def lifecycle_test_command(self, quick: bool = False) -> list[str]:
        """pytest over tests/lifecycle; quick runs a quarter of the tests' repetitions (same code paths, less mass).

        `--assert=plain`: pytest's assertion rewriting of the test modules was ~10% of the profile's samples whenever
        its cache could not be used (a fresh clone, or PYTHONDONTWRITEBYTECODE set, as on the development VM).
        """
        command = [sys.executable, "-m", "pytest", "tests/lifecycle", "-q", "-p", "no:cacheprovider", "--assert=plain"]
        return [*command, "--lifecycle-scale", "0.25"] if quick else command

    def schema_fingerprint(self) -> str:
        """sha256 over the engine's SQL files (names + bytes); `tasker migrate --print-version` as fallback."""
        files = engine_sql_files()
        if files:
            digest = hashlib.sha256()
            for path in files:
                digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
            return digest.hexdigest()
        try:
            command = [processes.tasker_executable(), "migrate", "--print-version"]
            out = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TargetError(f"cannot fingerprint the tasker schema: {exc}") from None
        if out.returncode != 0 or not out.stdout.strip():
            raise TargetError("cannot fingerprint the tasker schema: no SQL files found and --print-version failed")
        return hashlib.sha256(out.stdout.strip().encode()).hexdigest()

    @property
    def workload(self) -> ModuleType:
        return importlib.import_module("baseline.targets.tasker.workload")
