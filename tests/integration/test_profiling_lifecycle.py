"""lifecycle-profile and profile-report end to end: real py-spy over real pytest runs, the real CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from baseline.cli import main
from baseline.config import load_config
from baseline.profiling import folded
from baseline.profiling.lifecycle import profile_lifecycle

pytestmark = pytest.mark.timeout(240)

PASSING = """
import time

def lifecycle_work_under_test():
    end, x = time.monotonic() + 0.8, 0
    while time.monotonic() < end:
        x += 1
    return x

def test_work():
    assert lifecycle_work_under_test() > 0
"""

FAILING = """
def test_broken():
    assert 1 + 1 == 3, "deliberately failing lifecycle test"
"""


def _suite(folder: Path, body: str) -> list[str]:
    folder.mkdir()
    (folder / "test_suite.py").write_text(body)
    return [sys.executable, "-m", "pytest", str(folder), "-q", "-p", "no:cacheprovider", f"--rootdir={folder}"]


def test_passing_suite_writes_profile_views_and_record(tmp_path: Path) -> None:
    config = load_config({"label": "lc", "run": 2}, environ={"BASELINE_OUTPUT_DIR": str(tmp_path / "out")})
    result = profile_lifecycle(config, command=_suite(tmp_path / "suite", PASSING))
    assert result.passed and result.returncode == 0 and result.profiler_returncode == 0
    profiles = tmp_path / "out" / "lc" / "run-2" / "profiles"
    assert result.folded == profiles / "lifecycle.folded"
    stacks = folded.parse(result.folded.read_text())
    assert sum(n for s, n in stacks.items() if "lifecycle_work_under_test" in s) >= 20
    for name in ("lifecycle.svg", "lifecycle.speedscope.json", "lifecycle.hotpaths.json", "lifecycle.hotpaths.md"):
        assert (profiles / name).stat().st_size > 0, name
    record = json.loads((profiles / "lifecycle.json").read_text())
    assert record["tests_returncode"] == 0 and record["py_spy_returncode"] == 0 and record["passed"] is True
    assert record["samples"] >= 20 and record["seconds"] > 0.8 and record["rate"] == 100
    assert "1 passed" in record["output_tail"]


def test_failing_suite_fails_but_keeps_the_profile(tmp_path: Path) -> None:
    config = load_config({"label": "lc"}, environ={"BASELINE_OUTPUT_DIR": str(tmp_path / "out")})
    result = profile_lifecycle(config, command=_suite(tmp_path / "suite", FAILING))
    assert not result.passed and result.returncode == 1
    assert "deliberately failing lifecycle test" in result.output_tail
    assert result.folded.exists() and result.files["svg"].exists()
    record = json.loads(result.record.read_text())
    assert record["tests_returncode"] == 1 and record["passed"] is False
    assert any("lifecycle tests failed" in note for note in record["notes"])


@pytest.mark.slow
def test_lifecycle_profile_command_over_the_real_lifecycle_tests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BASELINE_OUTPUT_DIR", str(tmp_path))
    assert main(["lifecycle-profile", "--label", "real", "--rate", "50"]) == 0, capsys.readouterr()
    profiles = tmp_path / "real" / "run-1" / "profiles"
    text = (profiles / "lifecycle.folded").read_text()
    for module in ("task_initializer", "step_enqueuer", "result_processor", "task_finalizer"):
        assert module in text, module
    record = json.loads((profiles / "lifecycle.json").read_text())
    assert record["tests_returncode"] == 0 and record["rate"] == 50
    assert "lifecycle.svg" in capsys.readouterr().out

    assert main(["profile-report", "--label", "real"]) == 0
    assert "run-1/profiles/lifecycle.svg" in (tmp_path / "real" / "profiles.md").read_text()


def test_profile_report_tables_every_flamegraph_with_notes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BASELINE_OUTPUT_DIR", str(tmp_path))
    run1, run2 = tmp_path / "L" / "run-1" / "profiles", tmp_path / "L" / "run-2" / "profiles"
    run1.mkdir(parents=True)
    run2.mkdir(parents=True)
    (run1 / "lifecycle.folded").write_text("main (t.py);initialize_task (tasker/task_initializer.py) 9\n")
    (run2 / "e2e-worker-1.folded").write_text("main (w.py);claim (w.py) 3\nmain (w.py);execute (w.py) 1\n")
    (run2 / "e2e-worker-1.capture.json").write_text(json.dumps({"notes": ["worker-1 exited during capture"]}))
    (run2 / "e2e-api.folded").write_text("")

    assert main(["profile-report", "--label", "L"]) == 0
    out = capsys.readouterr().out
    assert "initialize_task" in out and "worker-1 exited during capture" in out
    md = (tmp_path / "L" / "profiles.md").read_text()
    assert "| 1 | [lifecycle](run-1/profiles/lifecycle.svg) | 9 ⚠ |" in md  # under 500 samples
    assert "| 2 | [e2e-worker-1](run-2/profiles/e2e-worker-1.svg) ⚠ | 4 ⚠ | 0.0% | `claim (w.py)` 75.0%" in md
    assert "| 2 | [e2e-api](run-2/profiles/e2e-api.svg) | 0 |" in md
    assert "- run 2 `e2e-worker-1`: worker-1 exited during capture" in md

    assert main(["profile-report", "--label", "nothing-here"]) == 1
