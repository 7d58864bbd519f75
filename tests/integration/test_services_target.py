"""The tasker adapter: process roles, schema fingerprint, migrate as a process, and the registry."""

from __future__ import annotations

import re

import psycopg
import pytest

from baseline.config import ConfigError
from baseline.services.postgres import free_port
from baseline.targets import get_target
from baseline.targets.base import Target, TargetError


def test_registry_returns_a_target_and_rejects_unknown_names() -> None:
    target = get_target("tasker")
    assert isinstance(target, Target)
    assert target.completion_channel == "tasker_task_completed"
    with pytest.raises(ConfigError, match="target: unknown target 'nope'; expected one of tasker"):
        get_target("nope")


def test_process_roles() -> None:
    roles = get_target("tasker").process_roles("postgresql://postgres@127.0.0.1:5/run_a_1", 8123, 3, 4)
    assert [r.name for r in roles] == ["api", "orchestrator", "worker-1", "worker-2", "worker-3"]
    api = roles[0]
    assert api.health_url == "http://127.0.0.1:8123/health/ready"
    assert api.argv[1:] == ["api", "--dsn", "postgresql://postgres@127.0.0.1:5/run_a_1", "--host", "127.0.0.1",
                            "--port", "8123"]  # fmt: skip
    assert roles[2].argv[1:] == ["worker", "--dsn", "postgresql://postgres@127.0.0.1:5/run_a_1", "--concurrency", "4"]
    assert all(r.env["TASKER_DATABASE_URL"].endswith("/run_a_1") for r in roles)
    assert all(r.argv[0].endswith("tasker") for r in roles)


def test_lifecycle_command_and_schema_fingerprint() -> None:
    target = get_target("tasker")
    command = target.lifecycle_test_command()
    assert command[1:] == ["-m", "pytest", "tests/lifecycle", "-q", "-p", "no:cacheprovider", "--assert=plain"]
    assert target.lifecycle_test_command(quick=True)[len(command) :] == ["--lifecycle-scale", "0.25"]
    fingerprint = target.schema_fingerprint()
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint)
    assert target.schema_fingerprint() == fingerprint


@pytest.mark.integration
def test_migrate_runs_the_console_script(fresh_dsn: str) -> None:
    get_target("tasker").migrate(fresh_dsn)
    get_target("tasker").migrate(fresh_dsn)  # idempotent
    with psycopg.connect(fresh_dsn) as conn:
        row = conn.execute("SELECT count(*) FROM named_tasks").fetchone()
    assert row is not None and row[0] >= 4


def test_migrate_failure_shows_the_engine_output() -> None:
    with pytest.raises(TargetError, match=r"`tasker migrate` exited with \d+:\n"):
        get_target("tasker").migrate(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
