"""Raw per-operation latency sampling: warm-up, then one ns sample per operation, bounded by count and time.

The timed region holds the operation only: setup, result checks and progress updates happen outside it.
Both ends are read from `time.perf_counter_ns` (CLOCK_MONOTONIC on Linux, system-wide), so a sample that
ends in another process's event stays on one clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from baseline.progress import NULL, Progress

Clock = Callable[[], int]


@dataclass
class SampleResult:
    """What one case measured; `stopped_by` is "count" or "budget" so a short run is never mistaken for a full one."""

    case_id: str
    samples: list[int]
    warmup: int
    target: int
    stopped_by: str
    elapsed_s: float
    results: list[Any] = field(default_factory=list)

    def meta(self) -> dict[str, Any]:
        return {
            "warmup": self.warmup,
            "target_samples": self.target,
            "stopped_by": self.stopped_by,
            "elapsed_s": round(self.elapsed_s, 3),
        }


@dataclass(frozen=True)
class Operation:
    """One case for `Sampler.run_round_robin`: what `Sampler.run` takes as its arguments."""

    case_id: str
    call: Callable[..., Any]
    setup: Callable[[], Any] | None = None
    check: Callable[[Any], None] | None = None


@dataclass
class Sampler:
    """Run a case: `warmup` untimed-for-the-record calls, then up to `samples` timed calls within `time_budget_s`."""

    samples: int
    warmup: int = 0
    time_budget_s: float = 30.0
    progress: Progress = NULL
    clock: Clock = time.perf_counter_ns

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError(f"samples must be >= 1 (got {self.samples})")
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0 (got {self.warmup})")
        if self.time_budget_s <= 0:
            raise ValueError(f"time_budget_s must be > 0 (got {self.time_budget_s})")

    def run(
        self,
        case_id: str,
        operation: Callable[..., Any],
        *,
        setup: Callable[[], Any] | None = None,
        check: Callable[[Any], None] | None = None,
        keep_results: bool = False,
    ) -> SampleResult:
        """Time `operation()` (or `operation(setup())` when setup is given); `check(result)` runs untimed."""
        return self.run_round_robin([Operation(case_id, operation, setup, check)], keep_results=keep_results)[0]

    def run_round_robin(self, operations: Sequence[Operation], *, keep_results: bool = False) -> list[SampleResult]:
        """Cases in turn, one call each per cycle: `warmup` untimed cycles, then timed cycles until every case has
        `samples` or the budget (per case, so the cycles get `time_budget_s` times the cases) runs out.

        Cases that alternate call by call share the machine's drift; taken one after another, each case gets a
        stretch of its own, which on a shared machine can differ by a third within a minute.
        """
        if not operations:
            raise ValueError("run_round_robin needs at least one operation")
        clock = self.clock
        budget_ns = int(self.time_budget_s * 1e9) * len(operations)
        start = clock()
        for _ in range(self.warmup):
            for op in operations:
                _, result = _timed_call(clock, op)
                if op.check is not None:
                    op.check(result)
            if clock() - start > budget_ns:
                break

        samples: list[list[int]] = [[] for _ in operations]
        results: list[list[Any]] = [[] for _ in operations]
        stopped_by = "count"
        progress = self.progress
        progress.case_started([op.case_id for op in operations], self.samples, self.time_budget_s)
        measure_start = clock()
        done = 0
        for cycle in range(1, self.samples + 1):
            for op, taken, kept in zip(operations, samples, results, strict=True):
                elapsed_ns, result = _timed_call(clock, op)
                taken.append(elapsed_ns)
                if op.check is not None:
                    op.check(result)
                if keep_results:
                    kept.append(result)
            done += len(operations)
            progress.advance(done)
            if cycle < self.samples and clock() - measure_start > budget_ns:
                stopped_by = "budget"
                break
        elapsed = (clock() - measure_start) / 1e9
        progress.case_finished(done, elapsed)
        return [
            SampleResult(op.case_id, taken, self.warmup, self.samples, stopped_by, elapsed, kept)
            for op, taken, kept in zip(operations, samples, results, strict=True)
        ]


def _timed_call(clock: Clock, op: Operation) -> tuple[int, Any]:
    """One call of `op`, its setup outside the timed region: (ns, result)."""
    if op.setup is not None:
        arg = op.setup()
        t0 = clock()
        result = op.call(arg)
        t1 = clock()
    else:
        t0 = clock()
        result = op.call()
        t1 = clock()
    return t1 - t0, result
