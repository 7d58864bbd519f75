"""summary.build_summary / write_summary on synthetic result files with known samples (real store writer)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from baseline import store
from baseline.config import Config
from baseline.results import StoreError
from baseline.summary import build_summary, write_summary

ENV = {
    "machine": {"cpu_model": "Test CPU", "cpu_count": 2, "hostname": "a"},
    "postgres": {"server_version": "15.8", "settings": {"fsync": "on"}, "dsn": "postgresql://u@h:1/run_x_1"},
    "config": {"dataset_scale": 500, "dataset_seed": 42, "samples": {"sql": 50}, "label": "x", "run": 1},
}
# Per-run medians 150, 160, 140 -> CV = 10 / 150; e2e medians 1000, 2000, 1000 -> CV = 0.577 (unstable).
SQL = {1: list(range(100, 201)), 2: list(range(110, 211)), 3: list(range(90, 191))}
E2E = {1: [900, 1000, 1100], 2: [1900, 2000, 2100], 3: [950, 1000, 1050]}


def write_run(root: Path, label: str, run: int, phases: dict[str, dict[str, list[float]]], **kw: object) -> None:
    config = Config(project_root=root, output_dir=root / "profiles", workdir=root / ".baseline", label=label, run=run)
    for phase, cases in phases.items():
        store.write_result(
            config,
            phase,
            [{"id": cid, "unit": "ns", "samples": s, "summary": {}, "meta": {}} for cid, s in cases.items()],
            environment=kw.get("environment", ENV),  # type: ignore[arg-type]
            flags=kw.get("flags", []),  # type: ignore[arg-type]
            extra=kw.get("extra", {}).get(phase),  # type: ignore[attr-defined]
        )


@pytest.fixture
def label_dir(tmp_path: Path) -> Path:
    for run in (1, 2, 3):
        flags = ["checkpoint_in_window"] if run == 2 else []
        write_run(tmp_path, "base", run, {"sql": {"sql/q": SQL[run]}, "e2e": {"e2e/linear": E2E[run]}}, flags=flags)
    return tmp_path / "profiles" / "base"


def test_pooled_and_per_run_statistics(label_dir: Path) -> None:
    summary = build_summary(label_dir, cv_threshold=0.10)
    cases = {c["id"]: c for c in summary["cases"]}
    sql = cases["sql/q"]
    assert sql["pooled"]["n"] == 303
    assert sql["pooled"]["p50"] == 150
    assert [r["p50"] for r in sql["runs"]] == [150, 160, 140]
    assert sql["cv"] == pytest.approx(10 / 150)
    assert sql["unstable"] is False
    lo, hi = sql["runs"][0]["p50_ci"]
    assert lo <= 150 <= hi
    assert cases["e2e/linear"]["unstable"] is True
    assert cases["e2e/linear"]["cv"] == pytest.approx(577.35 / 1333.33, rel=1e-3)
    assert summary["unstable_cases"] == ["e2e/linear"]
    assert sql["flags"] == ["checkpoint_in_window (run 2)"]
    assert summary["environment"]["machine"]["cpu_model"] == "Test CPU"
    assert summary["environment_notes"] == []
    assert len(sql["cdf"]) == 101 and sql["cdf"][0] == 90 and sql["cdf"][-1] == 210


def test_threshold_decides_unstable(label_dir: Path) -> None:
    cases = {c["id"]: c for c in build_summary(label_dir, cv_threshold=0.05)["cases"]}
    assert cases["sql/q"]["unstable"] is True


def test_failed_run_is_excluded_and_said_so(label_dir: Path) -> None:
    manifest = {"label": "base", "runs": {"2": {"status": "failed", "error": "worker died", "phases": {}}}}
    store.write_json_atomic(label_dir / "manifest.json", manifest)
    summary, _ = write_summary(label_dir, cv_threshold=0.10)
    assert summary["runs"] == [1, 3]
    assert summary["excluded_runs"] == [{"run": 2, "status": "failed", "error": "worker died"}]
    sql = next(c for c in summary["cases"] if c["id"] == "sql/q")
    assert [r["run"] for r in sql["runs"]] == [1, 3]
    assert "> Run 2 excluded (failed): worker died" in (label_dir / "report.md").read_text()


def test_environment_difference_between_runs_is_noted(tmp_path: Path) -> None:
    other = json.loads(json.dumps(ENV))
    other["postgres"]["settings"]["fsync"] = "off"
    other["machine"]["hostname"] = "b"  # irrelevant: not reported
    write_run(tmp_path, "l", 1, {"sql": {"sql/q": SQL[1]}})
    write_run(tmp_path, "l", 2, {"sql": {"sql/q": SQL[2]}}, environment=other)
    notes = build_summary(tmp_path / "profiles" / "l", cv_threshold=0.1)["environment_notes"]
    assert notes == ["run 2 differs from run 1: postgres.settings.fsync: 'on' != 'off'"]


def test_write_summary_writes_three_files(label_dir: Path) -> None:
    summary, paths = write_summary(label_dir, cv_threshold=0.10)
    assert [p.name for p in paths] == ["summary.json", "report.md", "report.html"]
    assert json.loads((label_dir / "summary.json").read_text())["cases"][0]["id"] == summary["cases"][0]["id"]
    md = (label_dir / "report.md").read_text()
    assert "| sql/q | 303 | 150 ns |" in md
    assert "UNSTABLE" in md
    html = (label_dir / "report.html").read_text()
    assert 'id="summary-table"' in html and "<script" not in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_profiler_cost_per_run_is_summarized_and_reported(tmp_path: Path) -> None:
    for run, ratio in ((1, 1.031), (2, 1.047)):
        window = {"linear": {"overhead_ratio": ratio, "overhead_ci": [ratio - 0.02, ratio + 0.03], "rounds": 5}}
        extra = {"e2e": {"profiled_window": window}}
        write_run(tmp_path, "p", run, {"e2e": {"e2e/workflow/linear": E2E[run]}}, extra=extra)
    summary, _ = write_summary(tmp_path / "profiles" / "p", cv_threshold=0.10)
    assert summary["profiler_cost"] == [
        {"run": 1, "workflow": "linear", "ratio": 1.031, "ci": [pytest.approx(1.011), pytest.approx(1.061)]},
        {"run": 2, "workflow": "linear", "ratio": 1.047, "ci": [pytest.approx(1.027), pytest.approx(1.077)]},
    ]
    md = (tmp_path / "profiles" / "p" / "report.md").read_text()
    assert "## Profiler cost" in md and "| linear | 1.031x [1.011, 1.061] | 1.047x [1.027, 1.077] |" in md
    html = (tmp_path / "profiles" / "p" / "report.html").read_text()
    assert "<h2>Profiler cost</h2>" in html and "<td>1.031x [1.011, 1.061]</td>" in html


def test_samplers_cpu_per_run_is_a_row_of_the_profiler_cost_table(tmp_path: Path) -> None:
    cpu = {1: {"api": 0.5, "orchestrator": 0.7}, 2: {}}  # run 2: a py-spy whose CPU could not be read
    for run in (1, 2):
        window = {"linear": {"overhead_ratio": 1.05, "overhead_ci": [1.0, 1.1], "rounds": 20}}
        profiles = [{"prefix": "e2e-", "seconds": 12.0, "sampler_cpu_s": cpu[run]}]
        extra = {"e2e": {"profiled_window": window, "profiles": profiles}}
        write_run(tmp_path, "p", run, {"e2e": {"e2e/workflow/linear": E2E[run]}}, extra=extra)
    summary, _ = write_summary(tmp_path / "profiles" / "p", cv_threshold=0.10)
    assert summary["profiler_cpu"] == [{"run": 1, "cores": 0.1}, {"run": 2, "cores": None}]
    md = (tmp_path / "profiles" / "p" / "report.md").read_text()
    assert "| py-spy's own CPU (cores) | 0.100 | - |" in md


def test_harness_and_host_per_run_is_summarized_and_reported(tmp_path: Path) -> None:
    for run, wake in ((1, 9.5), (2, 2.0)):
        extra = {
            "sql": {
                "calibration": {
                    "ratio": 1.04,
                    "select_1_p50_ns": 60_000,
                    "select_1_after_idle_p50_ns": 60_000 * wake,
                    "wake_up_ratio": wake,
                    "cpu_loop_p50_ns": 200_000 * run,
                },
                "cpu_steal_share": 0.002 * run,
            },
            "e2e": {"cpu_steal_share": 0.07 if run == 2 else 0.0},
        }
        phases = {"sql": {"sql/x": SQL[run]}, "e2e": {"e2e/workflow/linear": E2E[run]}}
        write_run(tmp_path, "h", run, phases, extra=extra)
    summary, _ = write_summary(tmp_path / "profiles" / "h", cv_threshold=0.10)
    first, second = summary["harness_and_host"]
    assert first == {
        "run": 1,
        "sql_harness_ratio": 1.04,
        "event_harness_ratio": None,
        "select_1_p50_ns": 60_000,
        "select_1_after_idle_p50_ns": 570_000.0,
        "wake_up_ratio": 9.5,
        "cpu_loop_p50_ns": 200_000,
        "max_cpu_steal_share": 0.002,
    }
    assert second["max_cpu_steal_share"] == 0.07 and second["wake_up_ratio"] == 2.0
    md = (tmp_path / "profiles" / "h" / "report.md").read_text()
    assert "## Harness and host" in md
    assert "| wake-up ratio (after idle / back to back) | 9.5x | 2.0x |" in md
    assert "| server CPU loop p50 (sum over 1,000 generated rows) | 200 µs | 400 µs |" in md
    assert "| harness overhead, NOTIFY (Sampler / bare loop p50) | - | - |" in md
    html = (tmp_path / "profiles" / "h" / "report.html").read_text()
    assert "<h2>Harness and host</h2>" in html and "<td>9.5x</td>" in html


def test_no_harness_and_host_section_without_calibration(label_dir: Path) -> None:
    summary = build_summary(label_dir, cv_threshold=0.1)
    assert summary["harness_and_host"] == []


def test_missing_label_names_it(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"label 'nope' not found"):
        build_summary(tmp_path / "nope", cv_threshold=0.1)


def test_corrupt_file_names_it(label_dir: Path) -> None:
    (label_dir / "run-2" / "sql.json").write_text("{not json")
    with pytest.raises(StoreError, match=r"run-2/sql\.json: not valid JSON"):
        build_summary(label_dir, cv_threshold=0.1)


def test_missing_phase_file_names_it(label_dir: Path) -> None:
    (label_dir / "run-3" / "e2e.json").unlink()
    with pytest.raises(StoreError, match=r"run-3/e2e\.json is missing"):
        build_summary(label_dir, cv_threshold=0.1)


def test_flamegraph_links_and_hotpaths(label_dir: Path) -> None:
    prof = label_dir / "run-1" / "profiles"
    prof.mkdir()
    (prof / "lifecycle.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    summary, _ = write_summary(label_dir, cv_threshold=0.1)
    assert summary["profiles"] == [
        {"run": 1, "name": "lifecycle", "hotpaths": None, "svg": "run-1/profiles/lifecycle.svg"}
    ]
    html = (label_dir / "report.html").read_text()
    assert 'href="run-1/profiles/lifecycle.svg"' in html


def test_html_svg_plots_are_well_formed(label_dir: Path) -> None:
    write_summary(label_dir, cv_threshold=0.1)
    html = (label_dir / "report.html").read_text()
    svgs = html.split("<svg")[1:]
    assert len(svgs) == 5  # e2e CDF + (box + medians) for each of the two cases
    for chunk in svgs:
        ET.fromstring("<svg" + chunk.split("</svg>")[0] + "</svg>")


def test_recorded_run_summary_is_reused_only_when_it_matches(tmp_path: Path) -> None:
    config = Config(project_root=tmp_path, output_dir=tmp_path, workdir=tmp_path, label="l", run=1)
    recorded = {"n": 3, "p50": 999.0, "p50_ci": [998.0, 1000.0], "p95": 1001.0}
    stale = {"n": 2, "p50": 5.0, "p50_ci": [4.0, 6.0], "p95": 7.0}  # n differs from the samples: recomputed
    cases = [
        {"id": "sql/a", "unit": "ns", "samples": [1, 2, 3], "summary": recorded},
        {"id": "sql/b", "unit": "ns", "samples": [1, 2, 3], "summary": stale},
    ]
    store.write_result(config, "sql", cases, environment={})
    summary = build_summary(tmp_path / "l", cv_threshold=0.1)
    assert [c["runs"][0]["p50"] for c in summary["cases"]] == [999.0, 2.0]
    assert summary["cases"][0]["pooled"]["p50"] == 2.0  # pooled statistics always come from the samples


def test_hotpath_headline_from_a_real_analysis(label_dir: Path) -> None:
    from baseline.profiling import folded, hotpaths

    stacks = folded.parse(
        "main (a.py);handle (tasker/orchestration/lifecycle/result_processor.py);execute (psycopg/cursor.py) 90\n"
        "main (a.py);send_notify (tasker/db.py) 10\n"
    )
    prof = label_dir / "run-1" / "profiles"
    prof.mkdir()
    (prof / "e2e-worker-1.hotpaths.json").write_text(
        json.dumps(hotpaths.analyze(stacks, modules=("result_processor",)))
    )
    (entry,) = build_summary(label_dir, cv_threshold=0.1)["profiles"]
    hot = entry["hotpaths"]
    assert entry["name"] == "e2e-worker-1" and hot["total_samples"] == 100
    assert hot["message_passing_share"] == pytest.approx(0.10)
    assert hot["modules"]["result_processor"] == pytest.approx(0.90)
    assert hot["top"][0] == {"frame": "execute (psycopg/cursor.py)", "share": pytest.approx(0.90)}


def test_a_flag_raised_in_several_runs_is_one_entry_naming_them() -> None:
    from baseline.results import flags_by_run as _flags_by_run

    assert _flags_by_run([("autovacuum_in_window", 3), ("checkpoint_in_window", 2), ("autovacuum_in_window", 1)]) == [
        "autovacuum_in_window (runs 1, 3)",
        "checkpoint_in_window (run 2)",
    ]


def test_the_pooled_ci_is_as_wide_as_the_runs_differ(tmp_path: Path) -> None:
    """Three runs whose medians span 20%: the run-level bootstrap's p50 CI spans their spread, where a bootstrap of
    the pooled samples alone would be a few percent wide."""
    config = Config(project_root=tmp_path, output_dir=tmp_path, workdir=tmp_path, label="l")
    for run, level in ((1, 100.0), (2, 110.0), (3, 120.0)):
        samples = [level + (i % 10) for i in range(300)]
        case = {"id": "e2e/x", "unit": "ns", "samples": samples, "summary": {}}
        store.write_result(config.with_run(run), "e2e", [case], environment={})
    (case,) = build_summary(tmp_path / "l", cv_threshold=0.1)["cases"]
    lo, hi = case["pooled"]["p50_ci"]
    assert lo <= 106 and hi >= 123 and case["pooled"]["ci_method"].startswith("hierarchical")
