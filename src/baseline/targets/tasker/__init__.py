"""The tasker target: the one place in the harness that knows the reference engine's surfaces.

It runs `tasker` console commands (processes.py), loads the seeded dataset (dataset.py, imported lazily) and
describes what the benches time and check (workload.py). Registered in pyproject.toml under the entry-point
group `baseline.targets`, as any user's own target would be. A revision of the engine is a commit of this
repository: an A/B run checks each side out into its own worktree and builds it into its own venv, and the target
bound to that build runs its console script and its lifecycle tests.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from baseline import revisions
from baseline.build import build_into
from baseline.results import StoreError, read_json
from baseline.revisions import Revision
from baseline.store import write_json_atomic
from baseline.targets.contract import Injection, ProcessRole, TargetError
from baseline.targets.tasker import processes
from baseline.targets.tasker.workload import TaskerWorkload

REVISION_FILE = "revision.json"


def _sql_roots(source_dir: Path | None) -> list[Path]:
    if source_dir is not None:
        return [source_dir / "src" / "tasker" / "sql"]
    spec = importlib.util.find_spec("tasker")  # located without importing (executing) the engine
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(location) / "sql" for location in spec.submodule_search_locations]


def engine_sql_files(source_dir: Path | None = None) -> list[Path]:
    """The engine's SQL files (any depth under tasker/sql) of a revision's source, or of the installed engine."""
    files: list[Path] = []
    for root in _sql_roots(source_dir):
        files.extend(sorted(root.rglob("*.sql"), key=lambda p: p.relative_to(root).as_posix()))
    return files


def _sql_relative(path: Path) -> str:
    parts = path.parts
    return "/".join(parts[len(parts) - 1 - parts[::-1].index("sql") :])


class TaskerTarget:
    name = "tasker"

    def __init__(self, *, bin_dir: Path | None = None, source_dir: Path | None = None) -> None:
        """Unbound: the engine installed beside the harness. Bound (by `install` / `bind`): a revision's build."""
        self._workload = TaskerWorkload()
        self.bin_dir, self.source_dir = bin_dir, source_dir

    @property
    def workload(self) -> TaskerWorkload:
        return self._workload

    def migrate(self, dsn: str) -> None:
        processes.run_migrate(dsn, bin_dir=self.bin_dir)

    def process_roles(self, dsn: str, api_port: int, workers: int, worker_concurrency: int) -> list[ProcessRole]:
        return processes.process_roles(dsn, api_port, workers, worker_concurrency, bin_dir=self.bin_dir)

    def load_dataset(self, dsn: str, scale: int, seed: int) -> dict[str, Any]:
        from baseline.targets.tasker.dataset import load_dataset  # the dataset's plan is big: loaded when needed

        return load_dataset(dsn, scale, seed)

    def lifecycle_test_command(self, quick: bool = False) -> list[str]:
        """pytest over tests/lifecycle; quick runs a quarter of the tests' repetitions (same code paths, less mass).

        `--assert=plain`: pytest's assertion rewriting of the test modules would otherwise be a part of the profile
        whenever its cache cannot be used (a fresh clone, or PYTHONDONTWRITEBYTECODE set; docs/findings/harness.md).
        `--disable-plugin-autoload`: the lifecycle tests need no plugin, and loading every installed one (hypothesis,
        schemathesis, ...) at start-up would make the dev tools installed part of the engine's profile.
        """
        python = str(self.bin_dir / "python") if self.bin_dir else sys.executable
        tests = str(self.source_dir / "tests" / "lifecycle") if self.source_dir else "tests/lifecycle"
        command = [
            python,
            "-m",
            "pytest",
            tests,
            "-q",
            "-p",
            "no:cacheprovider",
            "--assert=plain",
            "--disable-plugin-autoload",
        ]
        return [*command, "--lifecycle-scale", "0.25"] if quick else command

    def schema_fingerprint(self) -> str:
        """sha256 over the engine's SQL files (names + bytes); `tasker migrate --print-version` as fallback."""
        files = engine_sql_files(self.source_dir)
        if files:
            digest = hashlib.sha256()
            for path in files:
                digest.update(_sql_relative(path).encode() + b"\0" + path.read_bytes() + b"\0")
            return digest.hexdigest()
        try:
            command = [processes.tasker_executable(self.bin_dir), "migrate", "--print-version"]
            out = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TargetError(f"cannot fingerprint the tasker schema: {exc}") from None
        if out.returncode != 0 or not out.stdout.strip():
            raise TargetError("cannot fingerprint the tasker schema: no SQL files found and --print-version failed")
        return hashlib.sha256(out.stdout.strip().encode()).hexdigest()

    # ------------------------------------------------------------------------------------------ revisions

    def resolve_revision(self, ref: str | None, *, side: str, project_root: Path) -> Revision:
        """A commit of this repository; by default the head is the working tree and the base where it left the
        default branch."""
        if ref is None:
            return revisions.working_tree(project_root) if side == "head" else revisions.merge_base(project_root)
        return revisions.resolve(project_root, ref)

    def install(self, revision: Revision, into: Path) -> TaskerTarget:
        """The revision checked out into `into/src` and built (with its dev extras, for its lifecycle tests) into
        `into/venv`; a build of the same commit already there is reused."""
        record_path = into / REVISION_FILE
        try:
            recorded = read_json(record_path)
        except StoreError:
            recorded = None
        built = isinstance(recorded, dict) and recorded.get("revision", {}).get("commit") == revision.commit
        if not (built and (into / "venv" / "bin" / "tasker").is_file()):
            source = revisions.checkout(Path(revision.repository), revision, into / "src")
            build = build_into(source, into / "venv", extras="dev")
            write_json_atomic(record_path, {"revision": revision.public(), "build": build})
        return self.bind(into)

    def bind(self, into: Path) -> TaskerTarget:
        if not (into / "venv" / "bin" / "tasker").is_file():
            raise TargetError(f"{into} holds no built tasker revision; build it with `install` first")
        return TaskerTarget(bin_dir=into / "venv" / "bin", source_dir=into / "src")

    def inject(self, source: Path, kind: str, amount: float, measured: Mapping[str, float]) -> Injection:
        """Slow a checkout of the engine down by `amount` (0.10 = 10%) of what `measured` (case id -> p50 ns) says a
        thing takes: `sql` adds a CPU loop to the calibration case's function, sized on that function's slowest case
        so that each of its cases slows by at least `amount` (its rows from the host's measured cost per row: the
        server CPU loop less SELECT 1, over its 1,000 rows), `e2e` a delay to every step's handler (a
        linear task's four steps share the slowdown)."""
        from baseline.targets.tasker import inject

        def p50(case_id: str) -> float:
            if case_id not in measured:
                raise TargetError(f"cannot size the {kind} slowdown: no measured p50 of {case_id}")
            return measured[case_id]

        if kind == "sql":
            function = self.workload.calibration_case.split("/")[1]
            per_row = (p50("sql/calibrate/cpu_loop") - p50("sql/calibrate/select_1")) / 1000
            if per_row <= 0:
                raise TargetError(f"cannot size the SQL slowdown: the CPU loop measured no cost per row ({per_row})")
            cases = {case: p50(case) for case in measured if case.startswith(f"sql/{function}/")}
            slowest = max(cases, key=cases.__getitem__, default=self.workload.calibration_case)
            rows = max(1, math.ceil(amount * p50(slowest) / per_row))
            path = source / "src" / "tasker" / "sql" / "functions" / f"{function}.sql"
            path.write_text(inject.slow_sql_function(path.read_text(), rows))
            return Injection(
                description=(
                    f"{function}: a {rows}-row CPU loop per call (+{amount:.0%} of its slowest case's measured p50, "
                    f"{slowest.rsplit('/', 1)[-1]}; more of its faster cases')"
                ),
                function=function,
            )
        if kind == "e2e":
            delay = amount * p50("e2e/workflow/linear") / 4 / 1e9
            path = source / "src" / "tasker" / "handlers.py"
            path.write_text(inject.slow_handler(path.read_text(), round(delay, 6)))
            return Injection(
                description=f"every step's handler sleeps {delay * 1e3:.3f} ms (+{amount:.0%} of a linear task's p50)"
            )
        raise TargetError(f"unknown slowdown {kind!r}; the tasker target injects 'sql' or 'e2e'")
