"""How long a pipeline has left: from the phase's own progress (sample counts and budgets of its cases) and the
durations of phases seen before (earlier runs of this pipeline, or an earlier pipeline of the same size).

Pure: the display feeds it events and the clock; None means "not known yet", never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class CaseClock:
    """The case (or round-robin cases) being measured now."""

    ids: list[str]
    samples: int  # per case
    budget_s: float  # per case
    started: float
    done: int = 0

    @property
    def total(self) -> int:
        return self.samples * len(self.ids)

    def remaining_s(self, now: float) -> float | None:
        """The sooner of: the samples left at the pace so far, and what is left of the budget."""
        elapsed = max(0.0, now - self.started)
        by_budget = max(0.0, self.budget_s * len(self.ids) - elapsed)
        if self.done <= 0:
            return by_budget
        by_count = elapsed * (self.total - self.done) / self.done
        return max(0.0, min(by_count, by_budget))


@dataclass
class PhaseClock:
    """One phase process: how many cases it announced, which it is on, how long the finished ones took."""

    name: str
    started: float
    cases_total: int | None = None
    finished: list[float] = field(default_factory=list)
    case: CaseClock | None = None

    @property
    def case_number(self) -> int:
        return len(self.finished) + (1 if self.case else 0)

    def remaining_s(self, now: float, typical_s: float | None) -> float | None:
        elapsed = now - self.started
        if self.cases_total and self.case is not None:
            current = self.case.remaining_s(now)
            left = max(0, self.cases_total - self.case_number)
            per_case = (
                sum(self.finished) / len(self.finished)
                if self.finished
                else (now - self.case.started) + (current or 0.0)
            )
            estimate = (current or 0.0) + left * per_case
            return max(estimate, 0.0)
        if typical_s is not None:
            return max(0.0, typical_s - elapsed)
        return None


def remaining_s(
    now: float,
    current: PhaseClock | None,
    upcoming: Sequence[str],
    typical: Mapping[str, float],
) -> float | None:
    """The current phase's estimate plus the typical duration of every phase still to come; None if any is unknown."""
    total = 0.0
    if current is not None:
        left = current.remaining_s(now, typical.get(current.name))
        if left is None:
            return None
        total += left
    for name in upcoming:
        if name not in typical:
            return None
        total += typical[name]
    return total


def fmt_duration(seconds: float | None) -> str:
    """`1:05:09`, `4:10`, `0:07`; `?` when unknown."""
    if seconds is None:
        return "?"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
