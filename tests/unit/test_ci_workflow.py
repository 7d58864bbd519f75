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
    return workflow["jobs"]["compare"]["steps"]


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
        "src/tasker/orchestration/**",
        "src/baseline/**",
        "sessions/**",
        "noxfile.py",
        "tasks.py",
    ]


def test_checks_out_base_and_head_in_separate_folders(steps: list[dict[str, Any]]) -> None:
    checkouts = [s for s in steps if str(s.get("uses", "")).startswith("actions/checkout@")]
    assert {s["with"]["path"] for s in checkouts} == {"base", "head"}
    base = next(s for s in checkouts if s["with"]["path"] == "base")
    assert base["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"


BASELINES = "Baselines of base (pre-refactor) and head (post-refactor), runs interleaved"


def test_runs_the_same_nox_sessions_users_run_interleaved(steps: list[dict[str, Any]], tmp_path: Path) -> None:
    """The baseline step, run by bash with `nox` answering as a logger: base and head alternate run by run."""
    step = next(s for s in steps if s.get("name") == BASELINES)
    for side in ("base", "head"):
        (tmp_path / side).mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    (bin_dir / "nox").write_text(f'#!/bin/sh\necho "$(basename "$PWD") $*" >> {log}\n')
    (bin_dir / "nox").chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, check=True, timeout=60)
    assert log.read_text().splitlines() == [
        f"{side} -s baseline_{phase} -- --quick --only-run {run}"
        for run in (1, 2, 3)
        for side, phase in (("base", "pre"), ("head", "post"))
    ]
    compare = next(s for s in steps if s.get("id") == "compare")
    assert "nox -s compare" in compare["run"] and 'echo "exit_code=$code" >> "$GITHUB_OUTPUT"' in compare["run"]
    names = [s.get("name", "") for s in steps]
    assert names.index(BASELINES) < names.index("Compare pre-refactor with post-refactor")


def test_publishes_profiles_and_summary_and_fails_on_gate(steps: list[dict[str, Any]], workflow: dict) -> None:
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "profiles/" and upload["if"] == "always()"
    assert workflow["env"]["BASELINE_OUTPUT_DIR"] == "${{ github.workspace }}/profiles"
    summary = next(s for s in steps if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    assert "compare/pre-refactor__post-refactor/report.md" in summary["run"]
    gate = steps[-1]
    assert gate["if"] == "steps.compare.outputs.exit_code != '0'" and "exit 1" in gate["run"]
