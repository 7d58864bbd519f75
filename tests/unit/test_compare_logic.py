"""Verdicts, criteria and gates on synthetic data with fixed seeds."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from baseline.compare_logic import (
    Criteria,
    compare_case,
    compare_profile,
    evaluate_gates,
    gate_kind,
    host_drift,
    verdict,
)


@pytest.mark.parametrize(
    ("ratio", "ci", "expected"),
    [
        (1.12, (1.08, 1.16), "regressed"),
        (0.85, (0.80, 0.90), "improved"),
        (1.01, (0.98, 1.03), "unchanged"),
        (1.03, (1.01, 1.05), "unchanged"),  # significant but within noise, CI inside the band
        (1.04, (1.01, 1.08), "inconclusive"),  # excludes 1, too small to count, CI leaves the band
        (1.10, (0.95, 1.30), "inconclusive"),  # large but not significant
    ],
)
def test_verdict_table(ratio: float, ci: tuple[float, float], expected: str) -> None:
    assert verdict(ratio, ci, 0.05) == expected


def test_verdict_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="lower bound"):
        verdict(1.0, (1.2, 1.1), 0.05)
    with pytest.raises(ValueError, match="finite"):
        verdict(float("nan"), (1.0, 1.1), 0.05)


def test_criteria_defaults_and_from_mapping() -> None:
    c = Criteria()
    assert (c.e2e_max_ratio, c.e2e_hard_ratio, c.lifecycle_max_ratio) == (1.10, 1.20, 1.20)
    assert (c.sql_noise, c.new_hot_path_share, c.message_passing_max_share, c.noise, c.cv_threshold) == (
        0.05,
        0.05,
        0.05,
        0.05,
        0.10,
    )
    custom = Criteria.from_mapping({"e2e-max-ratio": 1.15, "cv_threshold": 0.2, "noise": 0})
    assert custom.e2e_max_ratio == 1.15 and custom.cv_threshold == 0.2 and custom.noise == 0.0
    assert Criteria.from_mapping({}) == Criteria()


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"e2e_max": 1.1}, "unknown criteria key 'e2e_max'"),
        ({"noise": "5%"}, "'noise' must be a number"),
        ({"sql_noise": True}, "'sql_noise' must be a number"),
        ({"e2e_max_ratio": 0.9}, "e2e_max_ratio"),
        ({"message_passing_max_share": 5}, "message_passing_max_share"),
    ],
)
def test_criteria_rejects_bad_keys_naming_them(mapping: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Criteria.from_mapping(mapping)


def test_gate_kind_from_prefix() -> None:
    assert gate_kind("sql/get_next_ready_tasks/batch_size=10") == "sql"
    assert gate_kind("e2e/linear") == "e2e"
    assert gate_kind("task_init/diamond") == "lifecycle"
    assert gate_kind("orchestration/result_processing") == "lifecycle"
    assert gate_kind("worker/claim") == "lifecycle"
    assert gate_kind("event/notify/1kb") is None
    assert gate_kind("sql/calibrate/select_1") is None


def _runs(rng: np.random.Generator, scale: float, n_runs: int = 3, n: int = 500) -> list[list[float]]:
    """Lognormal latencies (ms-like) with a little per-run jitter in the location."""
    return [(scale * rng.lognormal(0.0, 0.3, n) * rng.normal(1.0, 0.01)).tolist() for _ in range(n_runs)]


def test_aa_comparisons_never_regress_and_shift_is_detected() -> None:
    criteria = Criteria()
    aa, shifted = [], []
    for draw in range(20):
        rng = np.random.default_rng(1000 + draw)
        base = _runs(rng, 10.0)
        for out, scale in ((aa, 10.0), (shifted, 11.0)):
            res = compare_case("e2e/linear", base, _runs(rng, scale), criteria=criteria, seed=draw, n_boot=1000)
            out.append(res["verdict"])
    assert "regressed" not in aa, aa
    assert aa.count("unchanged") >= 10, aa  # most A/A draws are confidently within the 5% noise band
    assert shifted.count("regressed") >= 19, shifted


def test_compare_case_fields() -> None:
    rng = np.random.default_rng(5)
    base = _runs(rng, 1.0, n=200)
    res = compare_case("sql/f/x", base, [[v * 1.5 for v in r] for r in base], criteria=Criteria(), n_boot=300)
    assert res["gate"] == "sql" and res["noise"] == 0.05
    assert res["p50"]["ratio"] == pytest.approx(1.5) and res["p95"]["ratio"] == pytest.approx(1.5)
    assert res["verdict"] == res["p50"]["verdict"] == "regressed"
    assert res["base_stability"]["runs"] == 3 and res["unstable"] is False


def test_host_drift_names_the_calibration_cases_that_moved_and_nothing_else() -> None:
    rng = np.random.default_rng(9)
    base = _runs(rng, 1.0, n=200)
    slower = [[v * 1.4 for v in r] for r in base]
    cases = [
        compare_case("sql/calibrate/select_1_after_idle", base, slower, criteria=Criteria(), n_boot=300),
        compare_case("task_init/calibrate/get_health", base, base, criteria=Criteria(), n_boot=300),
        compare_case("e2e/linear", base, slower, criteria=Criteria(), n_boot=300),  # code, not the host
    ]
    (line,) = host_drift(cases)
    assert line.startswith("sql/calibrate/select_1_after_idle: slower on head, p50 x1.400 [")
    faster = compare_case("event/calibrate/bare_notify", slower, base, criteria=Criteria(), n_boot=300)
    assert host_drift([faster])[0].startswith("event/calibrate/bare_notify: faster on head, p50 x0.714")
    assert host_drift(cases[1:]) == []


def _case(case_id: str, ratio: float, lo: float, hi: float) -> dict[str, Any]:
    medians = {"base_medians": [100.0, 100.0, 100.0], "head_medians": [100.0 * ratio] * 3, "replicate": "run"}
    return {"id": case_id, "gate": gate_kind(case_id), "p50": {"ratio": ratio, "ci": [lo, hi]}, **medians}


def _profile(name: str, **over: Any) -> dict[str, Any]:
    p = {
        "name": name,
        "kind": "lifecycle" if name.startswith("lifecycle") else "service",
        "total_ratio": 1.0,
        "module_ratios": {},
        "message_passing": {"base_share": 0.01, "head_share": 0.01, "significant_increase": False},
        "diff": {"new_hot_paths": []},
    }
    p.update(over)
    return p


def _gates(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["name"]: g for g in result["gates"]}


def test_gates_all_pass_on_a_clean_comparison() -> None:
    cases = [_case("e2e/linear", 1.02, 0.99, 1.05), _case("sql/a", 1.0, 0.98, 1.02), _case("task_init/l", 1.1, 1, 1.2)]
    result = evaluate_gates(cases, [_profile("lifecycle", total_ratio=1.1)], Criteria())
    assert result["passed"] is True
    assert all(g["passed"] and g["evaluated"] for g in result["gates"])
    assert {g["name"] for g in result["gates"]} == {
        "e2e_within_max_ratio",
        "e2e_hard_regression",
        "sql_unchanged",
        "lifecycle_within_max_ratio",
        "no_new_hot_paths",
        "message_passing_share",
    }


def test_e2e_gates_soft_and_hard() -> None:
    g = _gates(evaluate_gates([_case("e2e/linear", 1.15, 1.10, 1.20)], [], Criteria()))
    assert not g["e2e_within_max_ratio"]["passed"] and g["e2e_hard_regression"]["passed"]
    assert "e2e/linear" in g["e2e_within_max_ratio"]["detail"]
    g = _gates(evaluate_gates([_case("e2e/diamond", 1.30, 1.25, 1.35)], [], Criteria()))
    assert not g["e2e_hard_regression"]["passed"] and g["e2e_hard_regression"]["hard"] is True
    # Over the limit but not significant (CI includes 1): not a failure.
    g = _gates(evaluate_gates([_case("e2e/linear", 1.15, 0.95, 1.40)], [], Criteria()))
    assert g["e2e_within_max_ratio"]["passed"]


def _blocks(rng: np.random.Generator, level: float, n: int, jitter: float) -> list[list[float]]:
    """n blocks of 40 samples around `level`, each block's level moved by up to `jitter` (host drift)."""
    return [list(rng.normal(level * (1 + rng.uniform(-jitter, jitter)), level * 0.02, 40)) for _ in range(n)]


def _sql_cases(slow: dict[str, float], *, paired: bool, replicates: int, seed: int = 1) -> list[dict[str, Any]]:
    """Three cases of each of three functions; `slow` gives a function's true head/base ratio. Paired blocks share
    their drift (head block i right after base block i); unpaired runs each drift on their own."""
    rng = np.random.default_rng(seed)
    cases = []
    for function in ("f_a", "f_b", "f_c"):
        for sample in range(1, 4):
            level = 100_000.0 * sample
            base = _blocks(rng, level, replicates, 0.10)
            if paired:
                head = [[x * slow.get(function, 1.0) * rng.normal(1, 0.005) for x in b] for b in base]
            else:
                head = _blocks(rng, level * slow.get(function, 1.0), replicates, 0.10)
            cases.append(
                compare_case(f"sql/{function}/sample={sample}", base, head, criteria=Criteria(), paired=paired)
            )
    return cases


def test_sql_gate_decides_per_function_and_names_the_slower_one() -> None:
    cases = _sql_cases({"f_b": 1.10}, paired=True, replicates=8)
    result = evaluate_gates(cases, [], Criteria())
    gate = _gates(result)["sql_unchanged"]
    assert not gate["passed"] and "f_b x1.1" in gate["detail"] and "f_a" not in gate["detail"]
    assert "Bonferroni" in gate["detail"] and "3 functions (9 cases)" in gate["detail"]
    verdicts = {f["function"]: f["verdict"] for f in result["functions"]}
    assert verdicts == {"f_a": "unchanged", "f_b": "regressed", "f_c": "unchanged"}
    assert all(c["verdict"] == "regressed" for c in cases if "/f_b/" in c["id"])


def test_an_a_a_of_paired_blocks_passes_although_every_block_drifts() -> None:
    result = evaluate_gates(_sql_cases({}, paired=True, replicates=8), [], Criteria())
    assert _gates(result)["sql_unchanged"]["passed"]
    assert {f["verdict"] for f in result["functions"]} == {"unchanged"}


def test_unpaired_runs_give_an_honestly_wide_interval() -> None:
    """Three runs a side that drift by up to 10% each: a 10% slowdown is not confirmed, nor is "unchanged"."""
    result = evaluate_gates(_sql_cases({"f_b": 1.10}, paired=False, replicates=3), [], Criteria())
    f_b = next(f for f in result["functions"] if f["function"] == "f_b")
    assert f_b["verdict"] == "inconclusive" and f_b["ci"][1] / f_b["ci"][0] > 1.10
    assert _gates(result)["sql_unchanged"]["passed"]


def test_too_few_blocks_give_no_interval_and_say_what_would() -> None:
    rng = np.random.default_rng(3)
    base, head = _blocks(rng, 1e5, 2, 0.0), _blocks(rng, 1.2e5, 2, 0.0)
    case = compare_case("e2e/workflow/linear", base, head, criteria=Criteria(), paired=True)
    assert case["p50"]["ci"] is None and case["verdict"] == "inconclusive"
    assert "2 block(s); an interval needs at least 3" in case["advice"]
    assert _gates(evaluate_gates([case], [], Criteria()))["e2e_within_max_ratio"]["passed"]


def test_an_inconclusive_case_says_how_many_replicates_would_settle_it() -> None:
    rng = np.random.default_rng(4)
    base = _blocks(rng, 1e5, 4, 0.0)
    head = [[x * rng.choice([0.9, 1.1]) for x in b] for b in base]
    case = compare_case("e2e/workflow/linear", base, head, criteria=Criteria(), paired=True)
    assert case["verdict"] == "inconclusive" and case["mde"] is not None and case["mde"] > 0.05
    assert "blocks (now 4) would narrow it" in case["advice"]


def test_lifecycle_gate_from_cases_and_profiles() -> None:
    g = _gates(evaluate_gates([_case("task_init/linear", 1.3, 1.25, 1.35)], [], Criteria()))
    assert not g["lifecycle_within_max_ratio"]["passed"]
    prof = _profile("lifecycle", total_ratio=1.05, module_ratios={"result_processor": 1.4})
    g = _gates(evaluate_gates([], [prof], Criteria()))
    assert not g["lifecycle_within_max_ratio"]["passed"]
    assert "result_processor" in g["lifecycle_within_max_ratio"]["detail"]


def test_hot_path_and_message_passing_gates() -> None:
    hot = {"frame": "slow (tasker/x.py)", "base_self_share": 0.02, "head_self_share": 0.10}
    mp_grew = {"base_share": 0.01, "head_share": 0.08, "significant_increase": True}
    mp_already = {"base_share": 0.09, "head_share": 0.09, "significant_increase": False}
    profiles = [_profile("e2e-worker-1", diff={"new_hot_paths": [hot]}, message_passing=mp_grew)]
    g = _gates(evaluate_gates([], profiles, Criteria()))
    assert not g["no_new_hot_paths"]["passed"] and "slow (tasker/x.py)" in g["no_new_hot_paths"]["detail"]
    assert not g["message_passing_share"]["passed"]
    g = _gates(evaluate_gates([], [_profile("e2e-api", message_passing=mp_already)], Criteria()))
    assert g["message_passing_share"]["passed"] and "already" in g["message_passing_share"]["detail"]


def test_gates_without_input_pass_but_say_not_evaluated() -> None:
    result = evaluate_gates([], [], Criteria())
    assert result["passed"] and not any(g["evaluated"] for g in result["gates"])


def _stacks(shares: dict[str, int]) -> dict[str, int]:
    return {f"main (app.py);{frame}": n for frame, n in shares.items()}


MODULES = ("task_initializer", "step_enqueuer", "result_processor", "task_finalizer")


def test_compare_profile_end_to_end_feeds_gates() -> None:
    base = _stacks(
        {
            "run (tasker/orchestration/lifecycle/result_processor.py);compute (tasker/x.py)": 400,
            "other (tasker/y.py)": 9400,
            "publish (tasker/queue.py)": 200,
        }
    )
    head = _stacks(
        {
            "run (tasker/orchestration/lifecycle/result_processor.py);compute (tasker/x.py)": 1000,
            "other (tasker/y.py)": 8200,
            "publish (tasker/queue.py)": 800,
        }
    )
    res = compare_profile("lifecycle", [base, base], [head, head], criteria=Criteria(), modules=MODULES)
    assert res["kind"] == "lifecycle" and res["total_ratio"] == pytest.approx(1.0)
    assert res["module_ratios"]["result_processor"] == pytest.approx(2.5)
    assert res["message_passing"]["head_share"] == pytest.approx(0.08)
    assert res["message_passing"]["significant_increase"] is True
    hot = {h["frame"] for h in res["diff"]["new_hot_paths"]}
    # `run` grew as much, inclusive, but all of its time is compute's: only frames that take the time themselves.
    assert hot == {"compute (tasker/x.py)", "publish (tasker/queue.py)"}
    g = _gates(evaluate_gates([], [res], Criteria()))
    assert not g["no_new_hot_paths"]["passed"]
    assert not g["message_passing_share"]["passed"]
    assert not g["lifecycle_within_max_ratio"]["passed"]


def test_a_change_seen_in_one_run_only_is_not_a_new_hot_path_nor_a_message_passing_rise() -> None:
    calm = _stacks({"other (tasker/y.py)": 9800, "compute (tasker/x.py)": 100, "publish (tasker/queue.py)": 100})
    spike = _stacks({"other (tasker/y.py)": 7000, "compute (tasker/x.py)": 2000, "publish (tasker/queue.py)": 1000})
    # Merged, head grows compute to ~10% and publishing to ~5.5%: significant by a z-test over 20,000 samples,
    # but one head run is as calm as the base runs, so the change is not replicated across runs.
    res = compare_profile("e2e-worker-1", [calm, calm], [spike, calm], criteria=Criteria())
    assert res["diff"]["new_hot_paths"] and not any(h["replicated"] for h in res["diff"]["new_hot_paths"])
    assert res["message_passing"]["replicated"] is False and res["message_passing"]["significant_increase"] is False
    g = _gates(evaluate_gates([], [res], Criteria()))
    assert g["no_new_hot_paths"]["passed"] and g["message_passing_share"]["passed"]
    # The same growth in every head run is a new hot path.
    res = compare_profile("e2e-worker-1", [calm, calm], [spike, spike], criteria=Criteria())
    assert not _gates(evaluate_gates([], [res], Criteria()))["no_new_hot_paths"]["passed"]


def test_lifecycle_time_must_grow_in_every_run_to_fail_its_gate() -> None:
    small = _stacks({"run (tasker/orchestration/lifecycle/result_processor.py)": 1000})
    big = _stacks({"run (tasker/orchestration/lifecycle/result_processor.py)": 3000})
    once = compare_profile("lifecycle", [small, small], [big, small], criteria=Criteria(), modules=MODULES)
    assert once["total_ratio"] == pytest.approx(2.0) and once["total_separated"] is False
    assert _gates(evaluate_gates([], [once], Criteria()))["lifecycle_within_max_ratio"]["passed"]
    always = compare_profile("lifecycle", [small, small], [big, big], criteria=Criteria(), modules=MODULES)
    assert not _gates(evaluate_gates([], [always], Criteria()))["lifecycle_within_max_ratio"]["passed"]


def test_new_hot_paths_are_judged_on_working_samples_not_idle_ones() -> None:
    """A service idle 90% of the time: a frame growing from 2% to 8% of its work is 0.2% -> 0.8% of all samples."""
    idle = "main (app.py);serve (uvicorn/server.py);select (selectors.py)"

    def run(work: int) -> dict[str, int]:
        return {
            idle: 9000,
            "main (app.py);handle (tasker/api.py)": 1000 - work,
            "main (app.py);slow (tasker/x.py)": work,
        }

    res = compare_profile("e2e-api", [run(20), run(20)], [run(80), run(80)], criteria=Criteria())
    (hot,) = [h for h in res["diff"]["new_hot_paths"] if h["frame"] == "slow (tasker/x.py)"]
    assert hot["head_self_share"] == pytest.approx(0.08) and hot["replicated"]
    assert res["diff"]["working_samples"] == {"base": 2000, "head": 2000}


def test_a_profile_with_too_few_working_samples_judges_no_hot_path() -> None:
    small = {"main (a.py);x (tasker/x.py)": 1, "main (a.py);y (tasker/y.py)": 79}
    grown = {"main (a.py);x (tasker/x.py)": 20, "main (a.py);y (tasker/y.py)": 60}
    res = compare_profile("e2e-worker-1", [small, small], [grown, grown], criteria=Criteria())
    assert res["diff"]["new_hot_paths"] and not any(h["replicated"] for h in res["diff"]["new_hot_paths"])
    assert "too few working samples (160 < 300)" in res["diff"]["note"]
    assert _gates(evaluate_gates([], [res], Criteria()))["no_new_hot_paths"]["passed"]


@pytest.mark.parametrize(("grown_blocks", "reproduced"), [(10, True), (9, True), (6, False)])
def test_in_block_pairs_a_growth_must_show_in_most_pairs(grown_blocks: int, reproduced: bool) -> None:
    def block(share: int) -> dict[str, int]:
        return {"main (a.py);x (tasker/x.py)": share, "main (a.py);other (tasker/y.py)": 1000 - share}

    base = [block(30) for _ in range(10)]
    head = [block(90) if i < grown_blocks else block(25) for i in range(10)]
    res = compare_profile("e2e-worker-1", base, head, criteria=Criteria(), paired=True)
    hot = {h["frame"]: h for h in res["diff"]["new_hot_paths"]}
    assert hot["x (tasker/x.py)"]["replicated"] is reproduced


def test_a_new_wrapper_or_a_renamed_outer_loop_is_not_a_new_hot_path() -> None:
    """The same work under new outer frames (a wrapper added, a main loop renamed) moves no self time."""
    base = {"main (a.py);loop (tasker/o.py);step (tasker/s.py)": 1000}
    head = {"main (a.py);_loop (tasker/o.py);deliver (tasker/w.py);step (tasker/s.py)": 1000}
    res = compare_profile("e2e-worker-1", [base] * 3, [head] * 3, criteria=Criteria())
    new = {f["frame"]: f for f in res["diff"]["new_frames"]}
    assert new["_loop (tasker/o.py)"]["head_share"] == 1.0 and new["deliver (tasker/w.py)"]["head_share"] == 1.0
    assert res["diff"]["new_hot_paths"] == []
    assert _gates(evaluate_gates([], [res], Criteria()))["no_new_hot_paths"]["passed"]
    # A frame that takes the time itself is judged by its name: moving its work to a new function is a new one.
    moved = {"main (a.py);loop (tasker/o.py);step_v2 (tasker/s.py)": 1000}
    res = compare_profile("e2e-worker-1", [base] * 3, [moved] * 3, criteria=Criteria())
    assert [h["frame"] for h in res["diff"]["new_hot_paths"]] == ["step_v2 (tasker/s.py)"]
