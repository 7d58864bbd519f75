"""`baseline summarize / report / export` as real subprocesses: files written, exit code 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from baseline import store
from baseline.config import Config


def cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "baseline.cli", *args], cwd=project, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[tool.baseline]\noutput_dir = "out"\nstability_cv = 0.02\n')
    for run, shift in ((1, 0), (2, 10)):
        config = Config(project_root=tmp_path, output_dir=tmp_path / "out", workdir=tmp_path, label="pre", run=run)
        samples = [s + shift for s in range(100, 201)]
        store.write_result(
            config, "sql", [{"id": "sql/q", "unit": "ns", "samples": samples, "summary": {}}], environment={}
        )
    return tmp_path


def test_summarize_writes_summary_and_reports(project: Path) -> None:
    out = cli(project, "summarize", "--label", "pre")
    assert out.returncode == 0, out.stderr
    label_dir = project / "out" / "pre"
    assert out.stdout.split() == [str(label_dir / n) for n in ("summary.json", "report.md", "report.html")]
    summary = json.loads((label_dir / "summary.json").read_text())
    (case,) = summary["cases"]
    assert [r["p50"] for r in case["runs"]] == [150, 160]
    assert case["unstable"] is True  # CV 0.045 > stability_cv 0.02 from pyproject


def test_report_rerenders_from_summary(project: Path) -> None:
    assert cli(project, "summarize", "--label", "pre").returncode == 0
    report = project / "out" / "pre" / "report.md"
    report.unlink()
    out = cli(project, "report", "--label", "pre")
    assert out.returncode == 0, out.stderr
    assert "| sql/q | 202 |" in report.read_text()


def test_export_both_formats(project: Path) -> None:
    out = cli(project, "export", "--label", "pre", "--format", "github", "--output", str(project / "gh.json"))
    assert out.returncode == 0, out.stderr
    assert json.loads((project / "gh.json").read_text())[0]["name"] == "sql/q"
    out = cli(project, "export", "--label", "pre")
    assert out.returncode == 0, out.stderr
    assert json.loads((project / "out" / "pre" / "bencher.json").read_text())["sql/q"]["latency"]["value"] == 155.0


def test_corrupt_file_exits_2_naming_it(project: Path) -> None:
    bad = project / "out" / "pre" / "run-2" / "sql.json"
    bad.write_text("[]")
    out = cli(project, "summarize", "--label", "pre")
    assert out.returncode == 2
    assert f"{bad}: expected a JSON object" in out.stderr and "Traceback" not in out.stderr


def test_missing_label_exits_2(project: Path) -> None:
    out = cli(project, "summarize", "--label", "nope")
    assert out.returncode == 2 and "label 'nope' not found" in out.stderr
    out = cli(project, "export", "--label", "nope")
    assert out.returncode == 2 and "label 'nope' not found" in out.stderr


def test_bad_config_exits_2(project: Path) -> None:
    out = cli(project, "summarize", "--label", "../etc")
    assert out.returncode == 2 and "--label" in out.stderr
