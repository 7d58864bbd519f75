"""An A/B of a revision against itself, as users run it (`baseline ab`), on real builds, real stacks and real
processes: both sides built from worktrees, both stacks up, the blocks alternating, a verdict from the pairs."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SIDES = ("base", "head")


def _baseline(env: dict[str, str], *args: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "baseline.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _head() -> str:
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def ab_env(harness_env: Callable[..., dict[str, str]]) -> Iterator[dict[str, str]]:
    env = harness_env("ab-test", {"sql": 4, "event": 10, "task_init": 4, "e2e": 2}, scale=300)
    env["BASELINE_AB_BLOCKS"] = "3"
    yield env


@pytest.fixture(scope="module")
def ab_run(ab_env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], Path]:
    commit = _head()
    proc = _baseline(ab_env, "ab", "--base", commit, "--head", commit, "--quick")
    folder = Path(ab_env["BASELINE_OUTPUT_DIR"]) / "ab" / f"{commit[:12]}__{commit[:12]}"
    assert proc.returncode in (0, 1), proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc, folder


def test_both_sides_take_every_phase_in_every_block_in_a_balanced_order(ab_run: tuple[object, Path]) -> None:
    _, folder = ab_run
    firsts = []
    for side in SIDES:
        manifest = json.loads((folder / side / "manifest.json").read_text())
        assert {k: v["status"] for k, v in manifest["runs"].items()} == {
            "1": "complete",
            "2": "complete",
            "3": "complete",
        }
        for block in ("1", "2", "3"):
            phases = manifest["runs"][block]["phases"]
            assert list(phases) == ["sql", "event", "task_init", "e2e", "lifecycle"]
            assert all(p["status"] == "ok" and p["exit_code"] == 0 for p in phases.values())
            if side == "base":
                firsts.append(phases["sql"]["first"])
            sql = json.loads((folder / side / f"run-{block}" / "sql.json").read_text())
            assert sql["label"] == side and sql["environment"]["config"]["revision_dir"].endswith(
                f"{side}-{_head()[:12]}"
            )
    assert set(firsts) == {"base", "head"}  # three blocks: each side goes first at least once


def test_every_block_runs_on_fresh_stacks(ab_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    proc, _ = ab_run
    for side in SIDES:
        assert [f"database run_{side}_{block}" in proc.stdout for block in (1, 2, 3)] == [True] * 3


def test_a_bench_block_measures_both_sides_in_one_process_taking_turns(ab_run: tuple[object, Path]) -> None:
    """Both sides' result files come from one paired-bench process, and their samples interleave in time."""
    _, folder = ab_run
    log = (folder / "base" / "run-1" / "logs" / "sql.log").read_text()
    assert "paired-bench sql base: wrote" in log and "paired-bench sql head: wrote" in log
    assert (folder / "head" / "run-1" / "logs" / "sql.log").read_text() == log
    started, finished = {}, {}
    for side in SIDES:
        path = folder / side / "run-1" / "e2e.json"
        started[side] = dt.datetime.fromisoformat(json.loads(path.read_text())["extra"]["started_at"])
        finished[side] = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    # Each side started before the other finished: their windows overlap (they took turns), not one after the other.
    assert all(started[a] < finished[b] for a in SIDES for b in SIDES)


def test_the_verdict_comes_from_the_pairs_of_blocks(ab_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    proc, folder = ab_run
    verdict = json.loads((folder / "verdict.json").read_text())
    assert verdict["mode"] == "a/b (paired blocks)" and verdict["blocks"] == 3
    assert verdict["revisions"]["base"]["commit"] == verdict["revisions"]["head"]["commit"] == _head()
    assert verdict["exit_code"] == proc.returncode == (0 if verdict["passed"] else 1)
    cases = {c["id"]: c for c in verdict["cases"]}
    assert {"sql/calibrate/select_1", "e2e/workflow/linear", "event/notify/payload=small"} <= set(cases)
    assert all(c["replicate"] == "block" and len(c["base_medians"]) == 3 for c in cases.values())
    assert {f["function"] for f in verdict["functions"]} >= {"get_next_ready_tasks", "get_step_readiness_status"}
    # Two workers split the work as they happen to claim it: they are compared as one kind, never one by one.
    assert {"e2e-worker", "e2e-api", "lifecycle"} <= {p["name"] for p in verdict["profiles"]}
    assert not any(p["name"].startswith("e2e-worker-") for p in verdict["profiles"])
    assert (folder / "report.md").read_text().startswith(f"# Compare `{_head()[:12]}` → `{_head()[:12]}`")
    assert proc.stdout.index("compare ") < proc.stdout.index("report:")  # the verdict is printed


def test_no_stack_is_left_running(ab_run: tuple[object, Path], ab_env: dict[str, str]) -> None:
    for side in SIDES:
        assert not (Path(ab_env["BASELINE_WORKDIR"]) / "ab" / side / "state.json").exists()


def test_a_revision_that_does_not_exist_is_bad_input(ab_env: dict[str, str]) -> None:
    proc = _baseline(ab_env, "ab", "--base", "no-such-branch", "--quick", timeout=120)
    assert proc.returncode == 2 and "'no-such-branch' names no commit" in proc.stderr
    assert "Traceback" not in proc.stderr
