"""Sampler with real callables and the real clock; two sides taking turns in real threads."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from baseline.measure import TURNS_PER_CASE, Operation, Sampler, Turnstile, exclusive, hand_over, taking_turns


def test_sleep_samples_are_at_least_the_sleep() -> None:
    result = Sampler(samples=5, warmup=1, time_budget_s=10).run("sleep", lambda: time.sleep(0.002))
    assert len(result.samples) == 5
    assert result.stopped_by == "count"
    assert all(s >= 2_000_000 for s in result.samples)
    assert all(s < 200_000_000 for s in result.samples)


def test_budget_stops_early_and_says_so() -> None:
    result = Sampler(samples=1000, warmup=0, time_budget_s=0.05).run("slow", lambda: time.sleep(0.01))
    assert 2 <= len(result.samples) < 1000
    assert result.stopped_by == "budget"
    assert result.meta()["stopped_by"] == "budget"


def test_setup_and_check_are_outside_the_timed_region() -> None:
    checked: list[int] = []

    def setup() -> int:
        time.sleep(0.02)
        return 7

    def check(value: int) -> None:
        time.sleep(0.02)
        checked.append(value)

    result = Sampler(samples=3, warmup=2, time_budget_s=10).run(
        "fast", lambda x: x * 2, setup=setup, check=check, keep_results=True
    )
    assert result.results == [14, 14, 14]
    assert checked == [14] * 5  # warm-up results are checked too
    assert max(result.samples) < 5_000_000  # 20 ms of setup/check never leaks into a sample


def test_failed_check_stops_the_case() -> None:
    def check(value: bool) -> None:
        if not value:
            raise AssertionError("operation returned false")

    with pytest.raises(AssertionError, match="returned false"):
        Sampler(samples=3).run("cas", lambda: False, check=check)


def test_warmup_is_not_recorded() -> None:
    calls: list[int] = []
    result = Sampler(samples=4, warmup=3).run("count", lambda: calls.append(1))
    assert len(calls) == 7
    assert len(result.samples) == 4


@pytest.mark.parametrize("kwargs", [{"samples": 0}, {"samples": 1, "warmup": -1}, {"samples": 1, "time_budget_s": 0}])
def test_bad_settings_are_rejected(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        Sampler(**kwargs)


def test_round_robin_takes_the_cases_in_turn_after_untimed_cycles() -> None:
    calls: list[str] = []

    def op(name: str, sleep_s: float) -> Operation:
        def call() -> None:
            calls.append(name)
            time.sleep(sleep_s)

        return Operation(f"rr/{name}", call)

    results = Sampler(samples=3, warmup=2, time_budget_s=10).run_round_robin([op("a", 0.0), op("b", 0.003)])
    assert calls == ["a", "b"] * 5  # two warm-up cycles, then three timed ones
    assert [r.case_id for r in results] == ["rr/a", "rr/b"]
    assert [len(r.samples) for r in results] == [3, 3]
    assert all(s >= 3_000_000 for s in results[1].samples) and max(results[0].samples) < 3_000_000


def test_round_robin_budget_stops_every_case_at_the_same_cycle() -> None:
    ops = [Operation("rr/slow", lambda: time.sleep(0.01)), Operation("rr/fast", lambda: None)]
    slow, fast = Sampler(samples=1000, time_budget_s=0.03).run_round_robin(ops)
    assert 2 <= len(slow.samples) == len(fast.samples) < 1000  # budget 0.03 s per case: 0.06 s for the cycles
    assert slow.stopped_by == fast.stopped_by == "budget"


def test_round_robin_keeps_results_and_checks_them_untimed() -> None:
    checked: list[int] = []

    def check(value: int) -> None:
        time.sleep(0.02)
        checked.append(value)

    ops = [Operation("rr/x", lambda v: v + 1, setup=lambda: 1, check=check), Operation("rr/y", lambda: 5)]
    x, y = Sampler(samples=2, warmup=1).run_round_robin(ops, keep_results=True)
    assert (x.results, y.results, checked) == ([2, 2], [5, 5], [2, 2, 2])
    assert max(x.samples) < 5_000_000


def test_round_robin_needs_an_operation() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Sampler(samples=1).run_round_robin([])


# ----------------------------------------------------------------- bench helpers (pure parts of baseline.benches)


def test_window_flags_name_what_ran_inside_the_window() -> None:
    from baseline.benches.common import window_flags

    quiet = {"checkpoints": 3, "autovacuum": 7}
    assert window_flags(quiet, dict(quiet)) == []
    assert window_flags(quiet, {"checkpoints": 4, "autovacuum": 7}) == ["checkpoint_in_window"]
    assert window_flags(quiet, {"checkpoints": 4, "autovacuum": 9}) == ["checkpoint_in_window", "autovacuum_in_window"]


def test_cpu_steal_above_five_percent_flags_the_window() -> None:
    from baseline.benches.common import steal_share, window_flags
    from baseline.procfs import cpu_ticks

    base = {"checkpoints": 0, "autovacuum": 0, "cpu_ticks": 1000, "steal_ticks": 10}
    assert steal_share(base, {**base, "cpu_ticks": 2000, "steal_ticks": 40}) == 0.03
    assert window_flags(base, {**base, "cpu_ticks": 2000, "steal_ticks": 40}) == []
    assert window_flags(base, {**base, "cpu_ticks": 2000, "steal_ticks": 90}) == ["cpu_steal_in_window"]
    assert steal_share({"checkpoints": 0}, {"checkpoints": 0}) is None  # not reported: no flag, no share
    now = cpu_ticks()  # this machine's real counters
    assert now["cpu_ticks"] > 0 and 0 <= now["steal_ticks"] <= now["cpu_ticks"]


def test_interleaved_alternates_chunks_and_keeps_counts() -> None:
    from baseline.benches.common import calibration_rounds, interleaved

    order: list[str] = []

    def harness(k: int) -> list[int]:
        order.append(f"h{k}")
        return [1] * k

    def bare(k: int) -> list[int]:
        order.append(f"b{k}")
        return [2] * k

    h, b = interleaved(harness, bare, 23, rounds=5)
    assert len(h) == len(b) == 23
    assert order == ["h5", "b5", "h5", "b5", "h5", "b5", "h4", "b4", "h4", "b4"]
    assert calibration_rounds(500) == 50 and calibration_rounds(3) == 1


def test_overhead_ratio_and_case_shape() -> None:
    from baseline.benches.common import BenchError, make_case, overhead_ratio

    cases = [make_case("x/harness", [110, 110, 110]), make_case("x/bare", [100, 100, 100], {"calibrates": "x"})]
    assert cases[0]["unit"] == "ns" and cases[0]["summary"]["n"] == 3 and cases[1]["meta"] == {"calibrates": "x"}
    assert overhead_ratio(cases, "x/harness", "x/bare")["ratio"] == 1.1
    with pytest.raises(BenchError, match="no samples"):
        make_case("x/empty", [])


def test_profiling_overhead_pools_alternating_blocks() -> None:
    from baseline.benches.common import make_case
    from baseline.benches.e2e import profiling_overhead

    def block(workflow: str, samples: list[int]) -> dict:
        return make_case(f"e2e/x/{workflow}", samples, {"workflow": workflow})

    # Round 2 ran on a slower machine: both of its blocks are slower, the per-round ratio stays 1.1.
    reference = [[block("linear", [100, 100, 100])], [block("linear", [200, 200, 200])]]
    profiled = [[block("linear", [110, 110, 110])], [block("linear", [220, 220, 220])]]
    out = profiling_overhead(reference, profiled)["linear"]
    assert out["round_ratios"] == [1.1, 1.1]
    assert out["rounds"] == 2 and out["reference_samples"] == out["profiled_samples"] == 6
    assert out["reference_p50_ns"] == 150 and out["profiled_p50_ns"] == 165 and out["overhead_ratio"] == 1.1
    # The pairs are resampled together: round 2's slower machine slows both of its blocks and cancels out.
    assert out["overhead_ci"] == [pytest.approx(1.1), pytest.approx(1.1)]


def test_block_order_is_abba_with_one_block_per_arm_and_round() -> None:
    from baseline.benches.e2e import block_order

    assert block_order(1) == ["reference", "profiled"]
    order = block_order(4)
    assert order == ["reference", "profiled", "profiled", "reference"] * 2
    # Each arm's mean position is the same, so a steady drift during the pass adds to both alike.
    positions = {arm: [i for i, a in enumerate(order) if a == arm] for arm in ("reference", "profiled")}
    assert sum(positions["reference"]) == sum(positions["profiled"])


def test_profiling_overhead_ci_is_narrow_when_the_blocks_agree() -> None:
    from baseline.benches.common import make_case
    from baseline.benches.e2e import profiling_overhead

    reference = [[make_case("e2e/x/linear", [100 + i % 7 for i in range(50)], {"workflow": "linear"})]] * 5
    profiled = [[make_case("e2e/x/linear", [104 + i % 7 for i in range(50)], {"workflow": "linear"})]] * 5
    lo, hi = profiling_overhead(reference, profiled)["linear"]["overhead_ci"]
    assert 1.0 < lo <= hi < 1.08  # 4 ns on ~103: about 1.04, and clear of 1.0


def test_event_payloads_carry_their_sequence_number() -> None:
    from baseline.benches.event import make_payload, payload_seq

    assert make_payload(12, 0) == "12:"
    assert len(make_payload(12, 7 * 1024)) == 7 * 1024
    assert payload_seq(make_payload(987, 1024)) == 987


# ------------------------------------------------------------------------------------------ sides taking turns


def _two_sides(ops: dict[str, Callable[[], Any]], samples: int) -> tuple[dict[str, Any], list[str], int]:
    """Run one case per side in two threads taking turns: (results or errors per side, who ran each call, most
    calls ever in flight at once)."""
    turnstile = Turnstile(["a", "b"])
    trace: list[str] = []
    in_flight = [0, 0]  # now, most
    lock = threading.Lock()
    out: dict[str, Any] = {}

    def side(name: str) -> None:
        def call() -> Any:
            with lock:
                in_flight[0] += 1
                in_flight[1] = max(in_flight)
                trace.append(name)
            try:
                return ops[name]()
            finally:
                with lock:
                    in_flight[0] -= 1

        try:
            with taking_turns(turnstile, name):
                out[name] = Sampler(samples=samples, time_budget_s=10).run(f"case-{name}", call)
        except Exception as exc:
            out[name] = exc

    threads = [threading.Thread(target=side, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a side never got its turn back"
    return out, trace, in_flight[1]


def test_two_sides_alternate_in_stretches_and_never_run_at_once() -> None:
    out, trace, most = _two_sides({"a": lambda: None, "b": lambda: None}, samples=16)
    assert most == 1
    assert len(out["a"].samples) == len(out["b"].samples) == 16
    stretches = [k for k, _ in itertools.groupby(trace)]
    assert stretches[0] == "a" and len(stretches) == 2 * TURNS_PER_CASE  # every 16/8 = 2 calls, the other side
    assert trace[:4] == ["a", "a", "b", "b"]


def test_a_sides_budget_and_elapsed_leave_out_the_other_sides_turns() -> None:
    out, _, _ = _two_sides({"a": lambda: time.sleep(0.001), "b": lambda: time.sleep(0.01)}, samples=16)
    assert out["a"].elapsed_s < 0.1  # 16 x 1 ms of its own, not the 160 ms the other side took meanwhile
    assert out["b"].elapsed_s >= 0.16


def test_a_side_that_fails_leaves_the_other_to_finish() -> None:
    def broken() -> None:
        raise RuntimeError("side b broke")

    out, trace, _ = _two_sides({"a": lambda: None, "b": broken}, samples=16)
    assert isinstance(out["b"], RuntimeError)
    assert len(out["a"].samples) == 16 and trace.count("b") == 1


def test_an_exclusive_section_keeps_the_turn() -> None:
    turnstile = Turnstile(["a", "b"])
    trace: list[str] = []

    def side(name: str) -> None:
        with taking_turns(turnstile, name):
            sampler = Sampler(samples=8, time_budget_s=10)
            if name == "a":
                with exclusive():
                    sampler.run("a", lambda: trace.append("a"))
            else:
                sampler.run("b", lambda: trace.append("b"))

    threads = [threading.Thread(target=side, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert trace == ["a"] * 8 + ["b"] * 8


def test_outside_a_turnstile_handing_over_does_nothing() -> None:
    assert hand_over() == 0
    result = Sampler(samples=10).run("alone", lambda: None)
    assert len(result.samples) == 10


def test_a_turnstile_needs_distinct_sides() -> None:
    with pytest.raises(ValueError, match="distinct sides"):
        Turnstile(["a", "a"])
