"""`baseline up/down/status/build/audit` as a user runs them: exit codes, one-line errors, files written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from baseline.audit import expand_braces, inventory
from baseline.config import load_config
from baseline.store import write_result

ROOT = Path(__file__).resolve().parents[2]


def _cli(tmp_path: Path, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "BASELINE_WORKDIR": str(tmp_path / "work"),
        "BASELINE_OUTPUT_DIR": str(tmp_path / "profiles"),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "baseline.cli", *argv], capture_output=True, text=True, env=full_env, cwd=ROOT
    )


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["up", "--run", "x"], {}, "baseline up: error: --run: expected an integer >= 1, got 'x'"),
        (["status", "--label", "../x"], {}, "baseline status: error: --label: expected a folder-safe name"),
        (["down"], {"BASELINE_SERVICES": "foo"}, "baseline down: error: BASELINE_SERVICES: expected one of embedded"),
        (["up", "--services", "external"], {}, "baseline up: error: services: 'external' needs dsn"),
    ],
)
def test_bad_config_exits_2_with_one_line(tmp_path: Path, argv: list[str], env: dict[str, str], expected: str) -> None:
    result = _cli(tmp_path, *argv, env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(expected)


def test_status_and_down_when_nothing_is_up(tmp_path: Path) -> None:
    status = _cli(tmp_path, "status")
    assert status.returncode == 1
    assert "no stack is up" in status.stdout
    down = _cli(tmp_path, "down")
    assert down.returncode == 0
    assert down.stdout.strip() == "nothing was running"


def test_external_services_unreachable_is_reported(tmp_path: Path) -> None:
    from baseline.services.postgres import free_port

    port = free_port()
    result = _cli(
        tmp_path, "up", "--services", "external", "--dsn", f"postgresql://u:pw@127.0.0.1:{port}/db", "--api-url",
        "http://127.0.0.1:9",
    )  # fmt: skip
    assert result.returncode == 1
    assert f"external database postgresql://u@127.0.0.1:{port}/db is not reachable" in result.stderr
    assert "pw@" not in result.stderr


def test_expand_braces() -> None:
    assert expand_braces("sql/x/batch_size={1,10}") == ["sql/x/batch_size=1", "sql/x/batch_size=10"]
    assert expand_braces("s={1..3}") == ["s=1", "s=2", "s=3"]
    assert expand_braces("plain") == ["plain"]


def test_inventory_marks_placeholders_and_silent_benches() -> None:
    benches = [
        {"name": "SQL", "phase": "sql", "cases": ["sql/a/n={1,2}"], "command": "nox -s sql_bench", "implemented": True},
        {"name": "Events", "phase": "event", "cases": ["event/x"], "command": "nox -s e", "implemented": True},
        {"name": "Worker processing cycle", "phase": "worker", "cases": ["worker/claim"], "implemented": False},
    ]
    rows = {r["name"]: r for r in inventory(benches, {"sql/a/n=1": 5, "event/x": 0})}
    assert rows["SQL"]["status"] == "implemented (1 registered case(s) without samples)"
    assert rows["SQL"]["samples"] == 5
    assert rows["Events"]["status"] == "placeholder (registered, no samples recorded)"
    assert rows["Worker processing cycle"]["status"] == "placeholder"
    # The plan's two other placeholders are listed although nobody registered them.
    assert rows["orchestration_coordination_latency"]["status"] == "placeholder (in the plan, not registered)"
    assert rows["framework_overhead_vs_noop"]["status"] == "placeholder (in the plan, not registered)"
    assert "worker_processing_cycle" not in rows


def test_audit_writes_inventory_from_the_registry(tmp_path: Path) -> None:
    from baseline.benches.registry import bench_entries
    from baseline.targets.tasker.workload import TaskerWorkload

    BENCHES = bench_entries(TaskerWorkload())

    config = load_config(
        {"label": "aud"}, environ={"BASELINE_OUTPUT_DIR": str(tmp_path / "profiles"), "BASELINE_WORKDIR": str(tmp_path)}
    )
    sql_entry = next(b for b in BENCHES if b.phase == "sql")
    case_id = expand_braces(sql_entry.cases[0])[0]
    case = {"id": case_id, "unit": "ns", "samples": [1, 2], "summary": {}, "meta": {}}
    write_result(config, "sql", [case], environment={})
    result = _cli(tmp_path, "audit", "--label", "aud")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "profiles" / "inventory.md").read_text()
    for entry in BENCHES:
        assert entry.name in text
    placeholders = [b for b in BENCHES if not b.implemented]
    assert placeholders, "the plan's placeholders are registered"
    assert text.count("| placeholder |") >= len(placeholders)
    assert re.search(rf"\| {re.escape(sql_entry.name)} \| sql \|.*\| implemented \(\d+ registered case", text)
    assert "written to" in result.stdout


@pytest.mark.slow
def test_build_records_wheel_and_versions(tmp_path: Path) -> None:
    result = _cli(tmp_path, "build", "--label", "b", "--system-site-packages")
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "profiles" / "b" / "build.json").read_text())
    assert record["wheel"]["name"].startswith("tasker_baseline-") and record["wheel"]["name"].endswith(".whl")
    assert re.fullmatch(r"[0-9a-f]{64}", record["wheel"]["sha256"])
    assert record["build_seconds"] > 0
    assert set(record["steps"]) == {"venv_s", "wheel_s", "install_s"}
    assert record["packages"]["tasker-baseline"] == "0.1.0"
    assert record["python"].startswith("3.")
    assert record["isolated"] is False
    assert record["venv"] is None  # the temporary venv was removed
