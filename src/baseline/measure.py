"""Raw per-operation latency sampling: warm-up, then one ns sample per operation, bounded by count and time.

The timed region holds the operation only: setup, result checks and progress updates happen outside it.
Both ends are read from `time.perf_counter_ns` (CLOCK_MONOTONIC on Linux, system-wide), so a sample that
ends in another process's event stays on one clock.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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


def progress_enabled() -> bool:
    """A live bar only for a person at a terminal: never in CI logs or piped output."""
    return sys.stderr.isatty() and not os.environ.get("CI")


@dataclass
class Sampler:
    """Run a case: `warmup` untimed-for-the-record calls, then up to `samples` timed calls within `time_budget_s`."""

    samples: int
    warmup: int = 0
    time_budget_s: float = 30.0
    progress: bool | None = None
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
        clock = self.clock
        budget_ns = int(self.time_budget_s * 1e9)
        start = clock()
        for _ in range(self.warmup):
            arg = setup() if setup is not None else None
            result = operation(arg) if setup is not None else operation()
            if check is not None:
                check(result)
            if clock() - start > budget_ns:
                break

        samples: list[int] = []
        results: list[Any] = []
        stopped_by = "count"
        show = progress_enabled() if self.progress is None else self.progress
        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=True,
            disable=not show,
            refresh_per_second=4,
        )
        measure_start = clock()
        with bar:
            task = bar.add_task(case_id, total=self.samples)
            while len(samples) < self.samples:
                if setup is not None:
                    arg = setup()
                    t0 = clock()
                    result = operation(arg)
                    t1 = clock()
                else:
                    t0 = clock()
                    result = operation()
                    t1 = clock()
                samples.append(t1 - t0)
                if check is not None:
                    check(result)
                if keep_results:
                    results.append(result)
                bar.advance(task)
                if len(samples) < self.samples and clock() - measure_start > budget_ns:
                    stopped_by = "budget"
                    break
        elapsed = (clock() - measure_start) / 1e9
        return SampleResult(case_id, samples, self.warmup, self.samples, stopped_by, elapsed, results)
