"""The whole pipeline as users run it: `invoke baseline --quick --runs 2`, then compare, on real services."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
LABEL = "pipetest"
PHASES = ("sql", "event", "task_init", "e2e")


def _run(env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def pipeline_env(harness_env: Callable[..., dict[str, str]]) -> Iterator[dict[str, str]]:
    env = harness_env("pipeline-test", {"sql": 10, "event": 20, "task_init": 10, "e2e": 4})
    try:
        yield env
    finally:
        _run(env, sys.executable, "-m", "baseline.cli", "down", "--quick")


@pytest.fixture(scope="module")
def baseline_run(pipeline_env: dict[str, str]) -> Path:
    proc = _run(pipeline_env, sys.executable, "-m", "invoke", "baseline", "--label", LABEL, "--quick", "--runs", "2")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return Path(pipeline_env["BASELINE_OUTPUT_DIR"]) / LABEL


def test_every_run_has_every_phase_and_profile(baseline_run: Path) -> None:
    manifest = json.loads((baseline_run / "manifest.json").read_text())
    assert {k: v["status"] for k, v in manifest["runs"].items()} == {"1": "complete", "2": "complete"}
    for run in ("run-1", "run-2"):
        for phase in PHASES:
            doc = json.loads((baseline_run / run / f"{phase}.json").read_text())
            assert doc["run"] == int(run[-1]) and doc["label"] == LABEL and doc["cases"]
            assert all(len(case["samples"]) == case["summary"]["n"] > 0 for case in doc["cases"])
        profiles = {p.name for p in (baseline_run / run / "profiles").glob("*.folded")}
        assert {"lifecycle.folded", "e2e-api.folded", "e2e-orchestrator.folded"} <= profiles
        assert (baseline_run / run / "profiles" / "lifecycle.svg").read_text().lstrip().startswith("<")
        lifecycle = json.loads((baseline_run / run / "profiles" / "lifecycle.json").read_text())
        assert lifecycle["passed"] and lifecycle["postgres"] == "the run's embedded server"  # profiled before down
    build = json.loads((baseline_run / "build.json").read_text())
    assert len(build["wheel"]["sha256"]) == 64


def test_no_stack_is_left_running(baseline_run: Path, pipeline_env: dict[str, str]) -> None:
    assert not (Path(pipeline_env["BASELINE_WORKDIR"]) / "state.json").exists()
    status = _run(pipeline_env, sys.executable, "-m", "baseline.cli", "status", "--quick")
    assert "no stack is up" in (status.stdout + status.stderr).lower(), status.stdout + status.stderr


def test_summary_pools_both_runs(baseline_run: Path) -> None:
    summary = json.loads((baseline_run / "summary.json").read_text())
    text = json.dumps(summary)
    assert "e2e/workflow/linear" in text and "sql/get_next_ready_tasks/batch_size=10" in text
    assert (baseline_run / "report.html").read_text().count("<svg") >= 2
    assert "password" not in text.lower()


def test_compare_against_a_copy_holds_every_gate(baseline_run: Path, pipeline_env: dict[str, str]) -> None:
    shutil.copytree(baseline_run, baseline_run.parent / "pipetest-copy", ignore=shutil.ignore_patterns(".lock"))
    proc = _run(
        pipeline_env, sys.executable, "-m", "baseline.cli", "compare", "--base", LABEL, "--head", "pipetest-copy"
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    verdict = json.loads((baseline_run.parent / "compare" / f"{LABEL}__pipetest-copy" / "verdict.json").read_text())
    assert verdict["passed"] is True and all(gate["passed"] for gate in verdict["gates"])
    assert not any(case["verdict"] == "regressed" for case in verdict["cases"])


def test_only_run_out_of_range_is_refused_without_touching_results(
    baseline_run: Path, pipeline_env: dict[str, str]
) -> None:
    before = (baseline_run / "manifest.json").read_text()
    proc = _run(
        pipeline_env, sys.executable, "-m", "invoke", "baseline", "--label", LABEL, "--runs", "2", "--only-run", "3"
    )
    assert proc.returncode == 2
    assert "--only-run 3" in proc.stdout + proc.stderr
    assert (baseline_run / "manifest.json").read_text() == before


def test_a_second_pipeline_on_the_same_label_is_refused(baseline_run: Path, pipeline_env: dict[str, str]) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT);"
            "fcntl.flock(fd, fcntl.LOCK_EX); os.pwrite(fd, str(os.getpid()).encode(), 0); print('held', flush=True);"
            "time.sleep(60)",
            str(baseline_run / ".lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        proc = _run(pipeline_env, sys.executable, "-m", "invoke", "baseline", "--label", LABEL, "--quick")
        assert proc.returncode == 2
        assert f"pid {holder.pid}" in proc.stdout + proc.stderr
    finally:
        holder.kill()
        holder.wait()
