"""Each bench command, run as a real process with --quick against the embedded services, writes a sound result.

One `baseline up` for the module (real cluster, real engine processes), the four bench commands reuse it
through the state file, `baseline down` at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from baseline.benches.registry import bench_entries
from baseline.targets.tasker.workload import TaskerWorkload

WORKFLOWS = TaskerWorkload.e2e_workflows
BENCHES = bench_entries(TaskerWorkload())

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = {"sql": 12, "event": 30, "task_init": 12, "e2e": 4}
LABEL = "benchtest"


def _baseline(env: dict[str, str], *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "baseline.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def bench_env(harness_env: Callable[..., dict[str, str]]) -> Iterator[dict[str, str]]:
    env = harness_env("bench-test", SAMPLES)
    up = _baseline(env, "up", "--quick", "--label", LABEL)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield env
    finally:
        _baseline(env, "down", "--quick", "--label", LABEL)


def _run_bench(env: dict[str, str], command: str, phase: str) -> dict:
    proc = _baseline(env, command, "--quick", "--label", LABEL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    path = Path(env["BASELINE_OUTPUT_DIR"]) / LABEL / "run-1" / f"{phase}.json"
    assert str(path) in proc.stdout
    text = path.read_text()
    assert "password" not in text.lower()
    return json.loads(text)


def _check_common(doc: dict, phase: str, expected_ids: set[str]) -> None:
    assert doc["schema_version"] == 1 and doc["phase"] == phase and doc["label"] == LABEL and doc["run"] == 1
    assert isinstance(doc["flags"], list)
    assert set(doc["flags"]) <= {"checkpoint_in_window", "autovacuum_in_window", "cpu_steal_in_window"}
    counters = doc["extra"]["window_counters"]
    assert counters["after"]["checkpoints"] >= counters["before"]["checkpoints"]
    env = doc["environment"]
    assert env["postgres"]["server_version"].startswith("15")
    assert "@" in env["postgres"]["dsn"] and ":" not in env["postgres"]["dsn"].split("@")[0].split("//")[1]
    if phase != "sql":  # the engine had worked off the dataset's ready tasks before the window opened
        assert doc["extra"]["settle"]["settled"] is True
        assert "engine_busy_in_window" not in doc["flags"]
    ids = {c["id"] for c in doc["cases"]}
    assert ids == expected_ids
    for case in doc["cases"]:
        assert case["unit"] == "ns"
        assert all(isinstance(s, int) and s > 0 for s in case["samples"])
        summary = case["summary"]
        assert summary["n"] == len(case["samples"])
        assert summary["min"] <= summary["p50"] <= summary["p95"] <= summary["max"]
        if "stopped_by" in case["meta"]:
            assert case["meta"]["stopped_by"] == "count"
            wanted = SAMPLES[phase] // 2 if case["id"] == "sql/calibrate/select_1_after_idle" else SAMPLES[phase]
            assert len(case["samples"]) == wanted, case["id"]


def test_sql_bench(bench_env: dict[str, str]) -> None:
    doc = _run_bench(bench_env, "sql-bench", "sql")
    expected = (
        {f"sql/get_next_ready_tasks/batch_size={n}" for n in (1, 10, 50, 100)}
        | {f"sql/get_step_readiness_status/sample={i}" for i in range(1, 6)}
        | {f"sql/get_task_execution_context/sample={i}" for i in range(1, 6)}
        | {f"sql/transition_task_state_atomic/sample={i}" for i in range(1, 6)}
        | {f"sql/get_step_transitive_dependencies/sample={i}" for i in range(1, 11)}
        | {
            "sql/calibrate/select_1",
            "sql/calibrate/select_1_after_idle",
            "sql/calibrate/cpu_loop",
            "sql/calibrate/harness/get_step_readiness_status",
            "sql/calibrate/bare_psycopg/get_step_readiness_status",
        }
    )
    _check_common(doc, "sql", expected)
    by_id = {c["id"]: c for c in doc["cases"]}
    for i in range(1, 6):
        meta = by_id[f"sql/transition_task_state_atomic/sample={i}"]["meta"]
        assert meta["all_expected"] is True and meta["expect"] is True
        assert meta["calls_checked"] == SAMPLES["sql"] + 2
    # Server-side time from pg_stat_statements sits beside the client round trip, and is the smaller of the two.
    ready = by_id["sql/get_step_readiness_status/sample=1"]
    assert 0 < ready["meta"]["server_mean_exec_ns"] < ready["summary"]["max"]
    calibration = doc["extra"]["calibration"]
    assert calibration["ratio"] > 0 and calibration["bare_case"].startswith("sql/calibrate/bare_psycopg/")
    assert len(by_id[calibration["bare_case"]]["samples"]) == SAMPLES["sql"]
    # the host's wake-up cost: SELECT 1 after 15 ms idle (untimed), beside the back-to-back SELECT 1
    assert by_id["sql/calibrate/select_1_after_idle"]["meta"]["idle_before_ms"] == 15
    assert calibration["wake_up_ratio"] == pytest.approx(
        by_id["sql/calibrate/select_1_after_idle"]["summary"]["p50"] / by_id["sql/calibrate/select_1"]["summary"]["p50"]
    )
    # the host's CPU speed: a fixed server-side loop, a calibration case like SELECT 1
    assert calibration["cpu_loop_p50_ns"] == by_id["sql/calibrate/cpu_loop"]["summary"]["p50"] > 0
    # measured on a private clone of the template, which no engine process touches
    assert doc["extra"]["database"]["kind"].startswith("private clone")
    assert doc["extra"]["window_counters"]["database"] == doc["extra"]["database"]["name"]
    explain_dir = Path(bench_env["BASELINE_OUTPUT_DIR"]) / LABEL / "run-1" / "explain"
    functions = {c["meta"]["function"] for c in doc["cases"] if "function" in c["meta"]}
    assert {p.stem for p in explain_dir.glob("*.json")} == functions
    plan = json.loads((explain_dir / "get_next_ready_tasks.json").read_text())
    assert "Execution Time" in plan["plan"][0]


def test_event_bench(bench_env: dict[str, str]) -> None:
    doc = _run_bench(bench_env, "event-bench", "event")
    expected = {
        "event/notify/payload=small",
        "event/notify/payload=1KB",
        "event/notify/payload=7KB",
        "event/insert_notify/payload=small",
        "event/calibrate/harness_notify",
        "event/calibrate/bare_notify",
    }
    _check_common(doc, "event", expected)
    assert doc["extra"]["calibration"]["bare_case"] == "event/calibrate/bare_notify"
    assert doc["extra"]["calibration"]["ratio"] > 0


def test_task_init_bench(bench_env: dict[str, str]) -> None:
    doc = _run_bench(bench_env, "task-init-bench", "task_init")
    creates = {"task_init/create_task/workflow=linear", "task_init/create_task/workflow=diamond"}
    _check_common(doc, "task_init", creates | {"task_init/calibrate/get_health"})
    by_id = {c["id"]: c for c in doc["cases"]}
    assert all(by_id[c]["meta"]["all_accepted"] and by_id[c]["meta"]["paced"] for c in creates)
    assert all(by_id[c]["meta"]["endpoint"].startswith("POST http://127.0.0.1:") for c in creates)
    # creating a task costs more than the bare HTTP round trip of the same client and server
    floor = by_id["task_init/calibrate/get_health"]["summary"]["p50"]
    assert all(by_id[c]["summary"]["p50"] > floor for c in creates)


def test_e2e_bench(bench_env: dict[str, str]) -> None:
    doc = _run_bench(bench_env, "e2e-bench", "e2e")
    workflows = ("linear", "diamond", "complex_dag", "hierarchical_tree")
    hops = {"orchestration/task_start", "orchestration/result_processing", "worker/claim", "worker/execute_submit"}
    _check_common(doc, "e2e", {f"e2e/workflow/{w}" for w in workflows} | hops)
    by_id = {c["id"]: c for c in doc["cases"]}
    for w in workflows:
        # every task of the window, warm-up included, was fetched and verified
        assert by_id[f"e2e/workflow/{w}"]["meta"]["verified_tasks"] == SAMPLES["e2e"] + 2
    # one hand-off sample per timed task (warm-up excluded) or per step of those tasks (4 + 4 + 7 + 8 steps)
    assert by_id["orchestration/task_start"]["summary"]["n"] == 4 * SAMPLES["e2e"]
    for hop in hops - {"orchestration/task_start"}:
        assert by_id[hop]["summary"]["n"] == 23 * SAMPLES["e2e"], hop
    assert all(by_id[hop]["meta"]["misordered"] == 0 for hop in hops)  # the engine stamps rows as written
    # each step's hand-offs are parts of its task's end-to-end time
    assert by_id["worker/claim"]["summary"]["p50"] < by_id["e2e/workflow/linear"]["summary"]["p50"]


def test_registry_matches_what_the_benches_write() -> None:
    phases = {b.phase for b in BENCHES if b.implemented}
    assert phases == {"sql", "event", "task_init", "e2e", "orchestration", "worker"}
    assert {b.name for b in BENCHES if not b.implemented} == {"Framework overhead vs no-op handler"}


def test_bad_input_exits_2_with_one_line(bench_env: dict[str, str]) -> None:
    proc = _baseline(bench_env, "sql-bench", "--run", "abc")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--run" in lines[0] and "Traceback" not in proc.stderr


def test_sql_bench_profile_holds_the_bench_work_not_the_idle_calibration(bench_env: dict[str, str]) -> None:
    """The bench process is profiled over the SQL cases; the untimed 15 ms waits of select_1_after_idle stay out."""
    proc = _baseline(bench_env, "sql-bench", "--quick", "--profile", "--label", LABEL, "--run", "3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = Path(bench_env["BASELINE_OUTPUT_DIR"]) / LABEL / "run-3"
    folded = (run_dir / "profiles" / "sql-bench.folded").read_text()
    assert "_measure_statement" in folded
    assert "_select_1_after_idle" not in folded
    doc = json.loads((run_dir / "sql.json").read_text())
    assert "sql/calibrate/select_1_after_idle" in {c["id"] for c in doc["cases"]}


def test_e2e_bench_with_profile_captures_each_service_but_not_postgres(bench_env: dict[str, str]) -> None:
    proc = _baseline(bench_env, "e2e-bench", "--quick", "--profile", "--label", LABEL, "--run", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = Path(bench_env["BASELINE_OUTPUT_DIR"]) / LABEL / "run-2"
    folded = sorted(p.name for p in (run_dir / "profiles").glob("*.folded"))
    assert folded == ["e2e-api.folded", "e2e-orchestrator.folded", "e2e-worker-1.folded", "e2e-worker-2.folded"]
    doc = json.loads((run_dir / "e2e.json").read_text())
    window = doc["extra"]["profiles"][0]
    assert window["prefix"] == "e2e-" and all(n > 0 for n in window["samples"].values())
    # Latency cases come from the unprofiled pass; the profiled pass only states its cost.
    assert [c["id"] for c in doc["cases"] if c["id"].startswith("e2e/")] == [f"e2e/workflow/{w}" for w in WORKFLOWS]
    overhead = doc["extra"]["profiled_window"]
    assert set(overhead) == set(WORKFLOWS)
    assert all(o["profiled_samples"] > 0 and o["overhead_ratio"] > 0 for o in overhead.values())
    assert all(o["overhead_ci"][0] <= o["overhead_ratio"] <= o["overhead_ci"][1] for o in overhead.values())
    # quick: one round, an unprofiled reference block then a profiled one (full runs: 20 rounds, ABBA)
    assert all(o["rounds"] == 1 and len(o["round_ratios"]) == 1 for o in overhead.values())
    assert all(o["reference_samples"] == o["profiled_samples"] for o in overhead.values())
    capture = json.loads((run_dir / "profiles" / "e2e-api.capture.json").read_text())
    assert capture["windows"] == 1
    # py-spy's own CPU while sampling, read from the scheduler: some, and less than one core over the window
    assert 0 < capture["sampler_cpu_s"] < capture["seconds"]
    assert set(window["sampler_cpu_s"]) == {"api", "orchestrator", "worker-1", "worker-2"}


def test_lifecycle_profile_uses_the_running_stack_server(bench_env: dict[str, str]) -> None:
    proc = _baseline(bench_env, "lifecycle-profile", "--quick", "--label", LABEL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    profiles = Path(bench_env["BASELINE_OUTPUT_DIR"]) / LABEL / "run-1" / "profiles"
    record = json.loads((profiles / "lifecycle.json").read_text())
    assert record["passed"] and record["postgres"] == "the run's embedded server"
    folded = (profiles / "lifecycle.folded").read_text()
    assert "EmbeddedPostgres.start" not in folded  # no cluster of its own
    assert "_rewrite_test" not in folded  # pytest's assertion rewriting is not the engine's work
