"""compare on synthetic labels through the real CLI (`python -m baseline.cli compare`) as a subprocess."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from baseline import store
from baseline.compare_io import compare_labels
from baseline.config import Config
from baseline.errors import BadInput

ENV = {
    "machine": {"cpu_model": "Test CPU", "cpu_count": 2, "hostname": "box"},
    "postgres": {"server_version": "15.8", "settings": {"fsync": "on", "shared_buffers": "16384"}},
    "config": {"dataset_scale": 500, "dataset_seed": 42, "samples": {"e2e": 10}, "label": "x", "run": 1},
}
# A lifecycle profile with 2% of its samples in a NOTIFY frame (message passing well under 5%).
FOLDED = (
    "main (t.py);handle_result (tasker/orchestration/lifecycle/result_processor.py);execute (psycopg/cursor.py) 600\n"
    "main (t.py);create_task (tasker/orchestration/lifecycle/task_initializer.py);dumps (json/encoder.py) 380\n"
    "main (t.py);send_notify (tasker/db.py) 20\n"
)


def _samples(rng: np.random.Generator, median_ns: float, n: int = 200) -> list[float]:
    return (median_ns * rng.lognormal(0.0, 0.1, n)).round().tolist()


def write_label(
    root: Path,
    label: str,
    *,
    e2e_factor: float = 1.0,
    env: dict | None = None,
    folded: str = FOLDED,
    floor_factor: float = 1.0,
) -> None:
    rng = np.random.default_rng(7)  # the same draws for every label: identical labels are identical
    for run in (1, 2, 3):
        config = Config(project_root=root, output_dir=root / "profiles", workdir=root / ".b", label=label, run=run)
        phases = {
            "sql": {
                "sql/get_next_ready_tasks/batch_size=10": _samples(rng, 800_000),
                "sql/calibrate/select_1": [s * floor_factor for s in _samples(rng, 60_000)],
            },
            "task_init": {"task_init/linear": _samples(rng, 2_000_000)},
            "e2e": {"e2e/linear": [s * e2e_factor for s in _samples(rng, 12_000_000)]},
        }
        for phase, cases in phases.items():
            entries = [{"id": cid, "unit": "ns", "samples": s, "summary": {}, "meta": {}} for cid, s in cases.items()]
            store.write_result(config, phase, entries, environment=env or ENV)
        (config.run_dir / "profiles").mkdir()
        (config.run_dir / "profiles" / "lifecycle.folded").write_text(folded)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[tool.baseline]\noutput_dir = "profiles"\n')
    write_label(tmp_path, "pre")
    return tmp_path


def run_compare(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "baseline.cli", "compare", "--base", "pre", "--head", "post", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )


def compare_dir(project: Path) -> Path:
    return project / "profiles" / "compare" / "pre__post"


def test_identical_labels_pass_with_exit_0(project: Path) -> None:
    write_label(project, "post")
    out = run_compare(project)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "compare pre -> post: gates PASSED (exit 0)" in out.stdout
    assert "  cases: 4 unchanged" in out.stdout
    verdict = json.loads((compare_dir(project) / "verdict.json").read_text())
    assert verdict["passed"] is True and verdict["exit_code"] == 0
    assert {c["id"]: c["verdict"] for c in verdict["cases"]} == {
        "sql/get_next_ready_tasks/batch_size=10": "unchanged",
        "sql/calibrate/select_1": "unchanged",
        "task_init/linear": "unchanged",
        "e2e/linear": "unchanged",
    }
    assert verdict["environment_warnings"] == [] and verdict["host_drift"] == []
    (profile,) = verdict["profiles"]
    assert profile["name"] == "lifecycle" and profile["total_ratio"] == 1.0
    svg = ET.parse(compare_dir(project) / "diff-lifecycle.svg").getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert (
        "**Result: PASSED (exit code 0) · stored baselines (runs) · runs base 3, head 3**"
        in (compare_dir(project) / "report.md").read_text()
    )
    html = (compare_dir(project) / "report.html").read_text()
    assert 'id="compare-table"' in html and 'href="diff-lifecycle.svg"' in html


def test_e2e_30_percent_slower_fails_with_exit_1(project: Path) -> None:
    write_label(project, "post", e2e_factor=1.3)
    out = run_compare(project)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "e2e/linear: regressed" in out.stdout
    assert "gate e2e_hard_regression failed (hard)" in out.stdout
    verdict = json.loads((compare_dir(project) / "verdict.json").read_text())
    e2e = next(c for c in verdict["cases"] if c["id"] == "e2e/linear")
    assert e2e["verdict"] == "regressed" and e2e["p50"]["ratio"] == pytest.approx(1.3)
    failed = {g["name"] for g in verdict["gates"] if not g["passed"]}
    assert failed == {"e2e_within_max_ratio", "e2e_hard_regression"}
    report = (compare_dir(project) / "report.md").read_text()
    assert "| e2e/linear | REGRESSED |" in report and "**Result: FAILED (exit code 1)" in report


def test_a_slower_host_floor_is_named_beside_the_verdict(project: Path) -> None:
    write_label(project, "post", floor_factor=1.5)  # only the calibration case moved: the machine, not the code
    out = run_compare(project)
    assert out.returncode == 0, out.stdout + out.stderr
    assert (
        "WARNING host floor moved (no code of the system under test in this case): sql/calibrate/select_1: slower "
        "on head" in out.stdout
    )
    verdict = json.loads((compare_dir(project) / "verdict.json").read_text())
    (drift,) = verdict["host_drift"]
    assert drift.startswith("sql/calibrate/select_1: slower on head, p50 x1.500")
    assert "The host's floor moved between the baselines" in (compare_dir(project) / "report.md").read_text()
    assert "The host&#x27;s floor moved" in (compare_dir(project) / "report.html").read_text()


def test_environment_mismatch_warns_and_strict_exits_2(project: Path) -> None:
    other = copy.deepcopy(ENV)
    other["postgres"]["settings"]["fsync"] = "off"
    other["machine"]["cpu_count"] = 8
    write_label(project, "post", env=other)
    out = run_compare(project)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "WARNING environment differs: postgres.settings.fsync: 'on' != 'off'" in out.stdout
    report = (compare_dir(project) / "report.md").read_text()
    # The verdict comes first, the warnings after it (and before the cases).
    assert report.index("**Result: PASSED") < report.index("> **Environment mismatch: latencies may not be comparable")
    assert report.index("> **Environment mismatch") < report.index("## Cases")
    assert "machine.cpu_count: 2 != 8" in report
    html = (compare_dir(project) / "report.html").read_text()
    assert html.index('id="verdict"') < html.index('id="gates-table"') < html.index('class="warn"')
    assert html.index('class="warn"') < html.index('id="compare-table"')
    assert out.stdout.index("gates PASSED") < out.stdout.index("WARNING environment differs")

    strict = run_compare(project, "--strict")
    assert strict.returncode == 2, strict.stdout + strict.stderr
    assert "gates PASSED, but the environments or the bench code differ under --strict (exit 2)" in strict.stdout
    assert json.loads((compare_dir(project) / "verdict.json").read_text())["exit_code"] == 2


def test_missing_label_exits_2_naming_it(project: Path) -> None:
    out = run_compare(project)
    assert out.returncode == 2
    assert "head (post): label 'post' not found" in out.stderr
    assert "Traceback" not in out.stderr
    assert not compare_dir(project).exists()


def test_corrupt_file_exits_2_naming_it(project: Path) -> None:
    write_label(project, "post")
    bad = project / "profiles" / "post" / "run-2" / "e2e.json"
    bad.write_text('{"schema_version": 1, "cases": [')
    out = run_compare(project)
    assert out.returncode == 2
    assert str(bad) in out.stderr and "not valid JSON" in out.stderr


def test_incompatible_schema_version_exits_2(project: Path) -> None:
    write_label(project, "post")
    path = project / "profiles" / "post" / "run-1" / "sql.json"
    data = json.loads(path.read_text())
    data["schema_version"] = 99
    path.write_text(json.dumps(data))
    out = run_compare(project)
    assert out.returncode == 2
    assert f"{path}: schema_version 99 is not supported" in out.stderr


def test_bad_criteria_key_exits_2_naming_it(project: Path) -> None:
    write_label(project, "post")
    (project / "pyproject.toml").write_text(
        '[tool.baseline]\noutput_dir = "profiles"\n[tool.baseline.criteria]\ne2e_max_ratoi = 1.1\n'
    )
    out = run_compare(project)
    assert out.returncode == 2
    assert "e2e_max_ratoi" in out.stderr


def test_criteria_from_pyproject_are_applied(project: Path) -> None:
    write_label(project, "post", e2e_factor=1.3)
    # Allow +50% E2E: the same 30% slowdown now passes every gate.
    verdict, code = compare_labels(
        project / "profiles", "pre", "post", criteria={"e2e_max_ratio": 1.5, "e2e_hard_ratio": 1.6}, strict=False
    )
    assert code == 0 and verdict["criteria"]["e2e_max_ratio"] == 1.5


def test_label_without_runs_is_bad_input(project: Path) -> None:
    (project / "profiles" / "post").mkdir()
    with pytest.raises(BadInput, match=r"head \(post\): label 'post' has no runs"):
        compare_labels(project / "profiles", "pre", "post", criteria={}, strict=False)


def test_label_names_cannot_escape_the_output_folder(project: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "baseline.cli", "compare", "--base", "pre", "--head", "../pre"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and "--head: expected a folder-safe name" in out.stderr


def test_new_hot_path_in_a_profile_fails_with_exit_1(project: Path) -> None:
    hot = FOLDED + "main (t.py);rebuild_graph (tasker/orchestration/lifecycle/step_enqueuer.py) 250\n"
    write_label(project, "post", folded=hot)
    out = run_compare(project)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "gate no_new_hot_paths failed (hard)" in out.stdout
    assert "rebuild_graph" in out.stdout
    report = (compare_dir(project) / "report.md").read_text()
    hot = "New hot paths (self share): `rebuild_graph (tasker/orchestration/lifecycle/step_enqueuer.py)` (20.0%)"
    assert hot in report
    assert "New frames: `rebuild_graph" in report


def test_a_head_missing_a_phase_is_bad_input_and_writes_nothing(project: Path) -> None:
    """compare must never pass on missing data: a head that lacks the e2e phase of the base is refused (exit 2)."""
    write_label(project, "post")
    for run in (1, 2, 3):
        (project / "profiles" / "post" / f"run-{run}" / "e2e.json").unlink()
    out = run_compare(project)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "were not measured alike: 1 case(s) only in base: e2e/linear; phases differ" in out.stderr
    assert "--allow-mismatch" in out.stderr and not compare_dir(project).exists()
    allowed = run_compare(project, "--allow-mismatch")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "WARNING compared despite a mismatch (--allow-mismatch): 1 case(s) only in base" in allowed.stdout
    assert "Compared despite mismatches (--allow-mismatch)" in (compare_dir(project) / "report.md").read_text()


def test_a_failed_run_on_one_side_or_another_config_is_a_mismatch(project: Path) -> None:
    other = copy.deepcopy(ENV)
    other["config"]["dataset_scale"] = 5000
    write_label(project, "post", env=other)
    out = run_compare(project)
    assert out.returncode == 2 and "config differs: config.dataset_scale" in out.stderr
    shutil.rmtree(project / "profiles" / "post")
    write_label(project, "post")
    manifest = project / "profiles" / "post" / "manifest.json"
    manifest.write_text(json.dumps({"label": "post", "runs": {"3": {"status": "failed", "error": "worker died"}}}))
    out = run_compare(project)
    assert out.returncode == 2 and "runs differ: base [1, 2, 3], head [1, 2]" in out.stderr
