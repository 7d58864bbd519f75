"""The pipeline's ETA: from the running case's counts and budget, the phase's cases, and earlier durations."""

from __future__ import annotations

import pytest

from baseline.pipeline.eta import CaseClock, PhaseClock, fmt_duration, remaining_s


def test_a_case_ends_at_its_pace_or_its_budget_whichever_is_sooner() -> None:
    case = CaseClock(["a"], samples=100, budget_s=30.0, started=0.0, done=25)
    assert case.remaining_s(now=5.0) == pytest.approx(15.0)  # 25 samples in 5 s: 75 more take 15 s
    slow = CaseClock(["a"], samples=100, budget_s=30.0, started=0.0, done=10)
    assert slow.remaining_s(now=20.0) == pytest.approx(10.0)  # the pace says 180 s, the budget 10 s
    fresh = CaseClock(["a", "b"], samples=10, budget_s=5.0, started=0.0)
    assert fresh.remaining_s(now=1.0) == pytest.approx(9.0)  # nothing taken yet: the budget of both cases


def test_a_phase_with_counted_cases_estimates_the_cases_left_from_those_done() -> None:
    phase = PhaseClock("sql", started=0.0, cases_total=4, finished=[2.0, 4.0])
    phase.case = CaseClock(["c"], samples=10, budget_s=100.0, started=6.0, done=5)
    # Case 3 of 4: half done after 1 s (1 s left), then one more case at the 3 s average.
    assert phase.remaining_s(now=7.0, typical_s=None) == pytest.approx(4.0)


def test_a_phase_without_progress_falls_back_to_its_earlier_duration() -> None:
    phase = PhaseClock("lifecycle", started=10.0)
    assert phase.remaining_s(now=13.0, typical_s=5.0) == pytest.approx(2.0)
    assert phase.remaining_s(now=13.0, typical_s=None) is None


def test_the_pipeline_adds_what_is_still_to_come_and_is_unknown_until_every_phase_was_seen() -> None:
    typical = {"up": 2.0, "sql": 20.0, "down": 1.0}
    current = PhaseClock("sql", started=0.0)
    assert remaining_s(5.0, current, ["down", "up", "sql"], typical) == pytest.approx(15.0 + 1 + 2 + 20)
    assert remaining_s(5.0, current, ["e2e"], typical) is None
    assert remaining_s(5.0, None, [], typical) == 0.0


@pytest.mark.parametrize(("seconds", "text"), [(None, "?"), (7.4, "0:07"), (250, "4:10"), (3909, "1:05:09")])
def test_durations_read_like_a_clock(seconds: float | None, text: str) -> None:
    assert fmt_duration(seconds) == text
