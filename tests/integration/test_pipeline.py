"""The whole pipeline as users run it, on real services: `baseline pipeline --quick --runs 2` (what
`nox -s baseline_pre` runs), then compare; and the nox and invoke entry points passing their options through."""

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


def _baseline(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return _run(env, sys.executable, "-m", "baseline.cli", *args)


@pytest.fixture(scope="module")
def pipeline_env(harness_env: Callable[..., dict[str, str]]) -> Iterator[dict[str, str]]:
    env = harness_env("pipeline-test", {"sql": 10, "event": 20, "task_init": 10, "e2e": 4})
    try:
        yield env
    finally:
        _baseline(env, "down", "--quick")


@pytest.fixture(scope="module")
def pipeline_run(pipeline_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = _baseline(pipeline_env, "pipeline", "--label", LABEL, "--quick", "--runs", "2")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc


@pytest.fixture(scope="module")
def baseline_run(pipeline_run: subprocess.CompletedProcess[str], pipeline_env: dict[str, str]) -> Path:
    return Path(pipeline_env["BASELINE_OUTPUT_DIR"]) / LABEL


def test_every_run_has_every_phase_and_profile(baseline_run: Path) -> None:
    manifest = json.loads((baseline_run / "manifest.json").read_text())
    assert {k: v["status"] for k, v in manifest["runs"].items()} == {"1": "complete", "2": "complete"}
    for run in ("run-1", "run-2"):
        for phase in PHASES:
            doc = json.loads((baseline_run / run / f"{phase}.json").read_text())
            assert doc["run"] == int(run[-1]) and doc["label"] == LABEL and doc["cases"]
            assert all(len(case["samples"]) == case["summary"]["n"] > 0 for case in doc["cases"])
            assert set(doc["provenance"]) == {"bench", "workload"}
        profiles = {p.name for p in (baseline_run / run / "profiles").glob("*.folded")}
        assert {"lifecycle.folded", "e2e-api.folded", "e2e-orchestrator.folded"} <= profiles
        assert (baseline_run / run / "profiles" / "lifecycle.svg").read_text().lstrip().startswith("<")
        lifecycle = json.loads((baseline_run / run / "profiles" / "lifecycle.json").read_text())
        assert lifecycle["passed"] and lifecycle["postgres"] == "the run's embedded server"  # profiled before down
    build = json.loads((baseline_run / "build.json").read_text())
    assert len(build["wheel"]["sha256"]) == 64


def test_the_manifest_records_each_phase_with_its_timing_exit_and_log(baseline_run: Path) -> None:
    run = json.loads((baseline_run / "manifest.json").read_text())["runs"]["2"]
    assert list(run["phases"]) == ["up", "sql", "event", "task_init", "e2e", "lifecycle"]
    assert run["started_at"] < run["finished_at"]
    for name in ("sql", "event", "task_init", "e2e", "lifecycle"):
        phase = run["phases"][name]
        assert phase["status"] == "ok" and phase["exit_code"] == 0 and phase["seconds"] > 0
        assert phase["started_at"] < phase["finished_at"]
        assert (baseline_run / phase["log"]).is_file()


def test_the_console_shows_plain_phase_lines_figures_and_a_headline_in_a_log(
    pipeline_run: subprocess.CompletedProcess[str],
) -> None:
    out = pipeline_run.stdout
    assert "\x1b[" not in out + pipeline_run.stderr  # a pipe gets no escape codes, no bars
    assert "nox >" not in out and "Running session" not in out
    for run in (1, 2):
        for name in ("up", "sql", "event", "task_init", "e2e", "lifecycle", "down"):
            assert any(line.startswith(f"run {run}/2  {name} ") and " ok " in line for line in out.splitlines())
    assert "sql/get_next_ready_tasks" in out and "p50" in out and "p95" in out
    assert "e2e/workflow/linear" in out and "cross-run CV" in out
    assert str(Path("pipetest") / "report.html") in out


def test_no_stack_is_left_running(baseline_run: Path, pipeline_env: dict[str, str]) -> None:
    assert not (Path(pipeline_env["BASELINE_WORKDIR"]) / "state.json").exists()
    status = _baseline(pipeline_env, "status", "--quick")
    assert "no stack is up" in (status.stdout + status.stderr).lower(), status.stdout + status.stderr


def test_summary_pools_both_runs(baseline_run: Path) -> None:
    summary = json.loads((baseline_run / "summary.json").read_text())
    text = json.dumps(summary)
    assert summary["runs"] == [1, 2]
    assert "e2e/workflow/linear" in text and "sql/get_next_ready_tasks/batch_size=10" in text
    assert (baseline_run / "report.html").read_text().count("<svg") >= 2
    assert "password" not in text.lower()


def test_compare_against_a_copy_holds_every_gate(baseline_run: Path, pipeline_env: dict[str, str]) -> None:
    shutil.copytree(baseline_run, baseline_run.parent / "pipetest-copy", ignore=shutil.ignore_patterns(".lock"))
    proc = _baseline(pipeline_env, "compare", "--base", LABEL, "--head", "pipetest-copy")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    verdict = json.loads((baseline_run.parent / "compare" / f"{LABEL}__pipetest-copy" / "verdict.json").read_text())
    assert verdict["passed"] is True and all(gate["passed"] for gate in verdict["gates"])
    assert not any(case["verdict"] == "regressed" for case in verdict["cases"])
    assert verdict["provenance_warnings"] == []  # measured by the same bench code


def test_a_failing_phase_fails_its_run_keeps_the_others_and_says_why(
    baseline_run: Path, pipeline_env: dict[str, str]
) -> None:
    """A bench that cannot run (a dataset too small for its SQL cases: bad input, exit 2) fails its run and the
    pipeline exits 1; the phases after it are recorded as skipped, the manifest and the console say why, and the
    services are stopped."""
    env = {**pipeline_env, "BASELINE_SCALE": "3"}
    proc = _baseline(env, "pipeline", "--label", "failing", "--quick", "--runs", "1", "--no-profile")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = json.loads((baseline_run.parent / "failing" / "manifest.json").read_text())["runs"]["1"]
    assert run["status"] == "failed" and run["error"].startswith("sql-bench exited with 2: error: ")
    assert "load a larger dataset (--scale)" in run["error"]
    assert run["phases"]["sql"]["status"] == "failed" and run["phases"]["sql"]["exit_code"] == 2
    assert [run["phases"][p]["status"] for p in ("event", "task_init", "e2e", "lifecycle")] == ["skipped"] * 4
    assert "last lines of" in proc.stdout and "load a larger dataset" in proc.stdout
    assert "1 of 1 run(s) failed" in proc.stderr
    assert not (Path(pipeline_env["BASELINE_WORKDIR"]) / "state.json").exists()


def test_only_run_out_of_range_is_refused_without_touching_results(
    baseline_run: Path, pipeline_env: dict[str, str]
) -> None:
    before = (baseline_run / "manifest.json").read_text()
    proc = _baseline(pipeline_env, "pipeline", "--label", LABEL, "--runs", "2", "--only-run", "3")
    assert proc.returncode == 2
    assert "--only-run 3" in proc.stderr and "Traceback" not in proc.stderr
    assert (baseline_run / "manifest.json").read_text() == before


@pytest.mark.parametrize(
    "command",
    [
        ["nox", "-s", "baseline_pre", "--", "--label", "optstest", "--runs", "2", "--only-run", "3"],
        ["invoke", "baseline", "--label", "optstest", "--runs", "2", "--only-run", "3"],
    ],
)
def test_nox_and_invoke_pass_the_pipeline_options_through(pipeline_env: dict[str, str], command: list[str]) -> None:
    """`nox -s baseline_pre -- OPTIONS` and `invoke baseline OPTIONS` reach the pipeline; bad input exits 2."""
    proc = _run(pipeline_env, sys.executable, "-m", *command, timeout=300)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "--only-run 3: must be between 1 and --runs (2)" in proc.stdout + proc.stderr
    assert "No idea what" not in proc.stdout + proc.stderr


def test_a_bad_label_is_refused_before_anything_is_created(pipeline_env: dict[str, str]) -> None:
    proc = _baseline(pipeline_env, "pipeline", "--label", "a b", "--quick")
    assert proc.returncode == 2 and "--label: expected a folder-safe name" in proc.stderr
    assert not (Path(pipeline_env["BASELINE_OUTPUT_DIR"]) / "a b").exists()


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
        proc = _baseline(pipeline_env, "pipeline", "--label", LABEL, "--quick")
        assert proc.returncode == 2
        assert f"pid {holder.pid}" in proc.stderr
    finally:
        holder.kill()
        holder.wait()
