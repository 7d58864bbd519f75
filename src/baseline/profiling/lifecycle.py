"""Lifecycle profiling: the target's lifecycle tests under py-spy (children followed) -> lifecycle.folded + views.

No stack is started here. With the run's embedded stack up, the tests create their databases in its server
(TASKER_TEST_ADMIN_DSN, see tests/conftest.py), so no cluster start-up lands in the profile; otherwise the test
suite's fixtures start a private cluster. The test run's exit code, py-spy's and the timing go to lifecycle.json;
a failing test run keeps its profile.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baseline import placement
from baseline.config import Config
from baseline.services.model import Stack

__all__ = ["LifecycleProfile", "profile_lifecycle"]

_TAIL_LINES = 40


@dataclass(frozen=True)
class LifecycleProfile:
    """Where the lifecycle profile went and whether the tests passed."""

    passed: bool
    returncode: int
    profiler_returncode: int
    folded: Path
    record: Path
    files: dict[str, Path]
    samples: int
    seconds: float
    output_tail: str


def _run_stack(config: Config) -> Stack | None:
    """This run's stack when its own server (embedded, or in a compose container) is up and answers; None otherwise
    (never an external server: test databases are not created in someone else's PostgreSQL)."""
    import psycopg

    from baseline.services.state import read_state

    stack = read_state(config)
    if stack is None or stack.services not in ("embedded", "compose"):
        return None
    try:
        with psycopg.connect(stack.admin_dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return None
    return stack


def profile_lifecycle(
    config: Config,
    *,
    idle: bool = True,
    command: Sequence[str] | None = None,
    py_spy: str | None = None,
) -> LifecycleProfile:
    """Run the lifecycle tests under py-spy into run_dir/profiles/lifecycle.* and record lifecycle.json.

    `idle` keeps waiting stacks (database round trips of the tests) so database time vs CPU shows, as in the
    service profiles. `command` replaces the target's lifecycle test command (tests use a tiny suite).
    """
    from baseline.environment import fingerprint
    from baseline.profiling.artifacts import render_artifacts
    from baseline.profiling.capture import record_command
    from baseline.redaction import redact_secrets
    from baseline.services.control import watch_phase
    from baseline.store import now_iso, write_json_atomic
    from baseline.targets import target_for

    target = target_for(config)
    modules = tuple(target.workload.lifecycle_modules)
    placement.pin_self(placement.for_policy(config.placement))  # pytest and py-spy inherit the harness's CPUs
    argv = list(command) if command is not None else target.lifecycle_test_command(quick=config.quick)
    stack = _run_stack(config)
    env = dict(os.environ, TASKER_TEST_ADMIN_DSN=stack.admin_dsn) if stack else None
    out_dir = config.run_dir / "profiles"
    folded = out_dir / "lifecycle.folded"
    started_at = now_iso()
    containers: dict[str, Any] = {}
    with watch_phase(stack, containers) if stack else contextlib.nullcontext():
        rec = record_command(
            argv,
            folded,
            rate=config.profile_rate,
            subprocesses=True,
            idle=idle,
            cwd=config.project_root,
            env=env,
            py_spy=py_spy,
        )
    tail = redact_secrets("\n".join(rec.stdout.rstrip().splitlines()[-_TAIL_LINES:]))
    passed = rec.returncode == 0
    notes = [] if passed else [f"the lifecycle tests failed (exit code {rec.returncode}); profile kept"]
    if rec.profiler_returncode != 0:
        said = " | ".join(line for line in rec.profiler_output.splitlines() if line.startswith("Error"))
        notes.append(f"py-spy exited with {rec.profiler_returncode}: {said or 'see py_spy_output in lifecycle.json'}")
    title = f"lifecycle tests — {config.label} run {config.run} ({config.profile_rate} Hz)"
    files = render_artifacts(folded, title=title, notes=notes, modules=modules)
    record: dict[str, Any] = {
        "schema_version": 1,
        "phase": "lifecycle_profile",
        "label": config.label,
        "run": config.run,
        "started_at": started_at,
        "finished_at": now_iso(),
        "command": redact_secrets(shlex.join(argv)),
        "cwd": str(config.project_root),
        "seconds": round(rec.seconds, 3),
        "tests_returncode": rec.returncode,
        "py_spy_returncode": rec.profiler_returncode,
        "passed": passed,
        "rate": config.profile_rate,
        "idle": idle,
        "postgres": f"the run's {stack.services} server" if stack else "a private cluster of the test suite",
        "samples": rec.samples,
        "modules": list(modules),
        "notes": notes,
        "files": {kind: path.name for kind, path in files.items()},
        "environment": fingerprint(None, config),
        **containers,
        "output_tail": tail,
        "py_spy_output": redact_secrets("\n".join(rec.profiler_output.strip().splitlines()[-12:])),
    }
    record_path = write_json_atomic(out_dir / "lifecycle.json", record)
    return LifecycleProfile(
        passed=passed,
        returncode=rec.returncode,
        profiler_returncode=rec.profiler_returncode,
        folded=folded,
        record=record_path,
        files=files,
        samples=rec.samples,
        seconds=rec.seconds,
        output_tail=tail,
    )
