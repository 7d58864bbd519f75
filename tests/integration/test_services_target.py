"""The tasker adapter: process roles, schema fingerprint, migrate as a process, and the registry."""

from __future__ import annotations

import re

import psycopg
import pytest

from baseline.services.postgres import free_port
from baseline.targets import UnknownTarget, load_target
from baseline.targets.contract import Target, TargetError


def test_registry_returns_a_target_and_rejects_unknown_names() -> None:
    target = load_target("tasker")
    assert isinstance(target, Target)
    assert target.workload.completion_channel == "tasker_task_completed"
    with pytest.raises(
        UnknownTarget, match=r"target 'nope' is not installed \(entry points of group baseline\.targets: .*tasker"
    ):
        load_target("nope")
    with pytest.raises(UnknownTarget, match="target 'no_such_module:Factory': cannot load it"):
        load_target("no_such_module:Factory")


def test_a_target_named_by_module_and_factory_loads_the_same_target() -> None:
    target = load_target("baseline.targets.tasker:TaskerTarget")
    assert target.name == "tasker" and target.workload.e2e_workflows == load_target("tasker").workload.e2e_workflows


def test_process_roles() -> None:
    roles = load_target("tasker").process_roles("postgresql://postgres@127.0.0.1:5/run_a_1", 8123, 3, 4)
    assert [r.name for r in roles] == ["api", "orchestrator", "worker-1", "worker-2", "worker-3"]
    api = roles[0]
    assert api.health_url == "http://127.0.0.1:8123/health/ready"
    assert api.argv[1:] == ["api", "--host", "127.0.0.1", "--port", "8123"]
    assert roles[2].argv[1:] == ["worker", "--concurrency", "4"]
    assert all(r.env["TASKER_DATABASE_URL"].endswith("/run_a_1") for r in roles)
    assert not any("postgresql://" in word for r in roles for word in r.argv)  # the DSN travels in the environment
    assert all(r.argv[0].endswith("tasker") for r in roles)


def test_lifecycle_command_and_schema_fingerprint() -> None:
    target = load_target("tasker")
    command = target.lifecycle_test_command()
    assert command[1:] == [
        "-m",
        "pytest",
        "tests/lifecycle",
        "-q",
        "-p",
        "no:cacheprovider",
        "--assert=plain",
        "--disable-plugin-autoload",
    ]
    assert target.lifecycle_test_command(quick=True)[len(command) :] == ["--lifecycle-scale", "0.25"]
    fingerprint = target.schema_fingerprint()
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint)
    assert target.schema_fingerprint() == fingerprint


@pytest.mark.integration
def test_migrate_runs_the_console_script(fresh_dsn: str) -> None:
    load_target("tasker").migrate(fresh_dsn)
    load_target("tasker").migrate(fresh_dsn)  # idempotent
    with psycopg.connect(fresh_dsn) as conn:
        row = conn.execute("SELECT count(*) FROM named_tasks").fetchone()
    assert row is not None and row[0] >= 4


def test_migrate_failure_shows_the_engine_output() -> None:
    with pytest.raises(TargetError, match=r"`tasker migrate` exited with \d+:\n"):
        load_target("tasker").migrate(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
