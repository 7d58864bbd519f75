"""The benchmarks CI workflow: valid against GitHub's workflow schema, and it runs what users run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "benchmarks.yml"


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


@pytest.fixture(scope="module")
def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return workflow["jobs"]["ab"]["steps"]


def _check_jsonschema() -> str:
    found = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    assert Path(found).exists(), "check-jsonschema is missing: pip install -e .[dev]"
    return found


def test_valid_against_github_workflow_schema() -> None:
    out = subprocess.run(
        [_check_jsonschema(), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: pull_request\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps: {not: a list}\n")
    out = subprocess.run(
        [_check_jsonschema(), "--builtin-schema", "vendor.github-workflows", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0


def test_triggers_on_pull_requests_touching_engine_or_harness(workflow: dict[str, Any]) -> None:
    # PyYAML reads the bare key `on` as True.
    triggers = workflow.get("on", workflow.get(True))
    assert set(triggers) == {"pull_request"}
    assert triggers["pull_request"]["paths"] == [
        "src/tasker/**",
        "src/baseline/**",
        "sessions/**",
        "noxfile.py",
        "tasks.py",
    ]


def test_checks_out_the_history_the_base_commit_is_built_from(steps: list[dict[str, Any]]) -> None:
    (checkout,) = [s for s in steps if str(s.get("uses", "")).startswith("actions/checkout@")]
    assert checkout["with"]["fetch-depth"] == 0


def test_runs_the_same_ab_session_users_run(steps: list[dict[str, Any]], tmp_path: Path) -> None:
    """The A/B step, run by bash with `nox` answering as a logger (exit 1: a failed gate): it calls the users' session
    with the pull request's base and head, and records the exit code instead of failing the step."""
    step = next(s for s in steps if s.get("id") == "ab")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log, output = tmp_path / "calls.log", tmp_path / "github_output"
    (bin_dir / "nox").write_text(f'#!/bin/sh\necho "$*" >> {log}\nexit 1\n')
    (bin_dir / "nox").chmod(0o755)
    script = step["run"].replace("${{ github.event.pull_request.base.sha }}", "abc123")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "GITHUB_OUTPUT": str(output)}
    subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, env=env, check=True, timeout=60)
    assert log.read_text().splitlines() == ["-s ab -- --quick --base abc123 --head HEAD"]
    assert output.read_text().strip() == "exit_code=1"


def test_publishes_profiles_and_summary_and_fails_on_gate(steps: list[dict[str, Any]], workflow: dict) -> None:
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "profiles/" and upload["if"] == "always()"
    assert workflow["env"]["BASELINE_OUTPUT_DIR"] == "${{ github.workspace }}/profiles"
    summary = next(s for s in steps if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    assert "/ab/*__*/report.md" in summary["run"]
    gate = steps[-1]
    assert gate["if"] == "steps.ab.outputs.exit_code != '0'" and "exit 1" in gate["run"]
