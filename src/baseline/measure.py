"""Raw per-operation latency sampling: warm-up, then one ns sample per operation, bounded by count and time.

The timed region holds the operation only: setup, result checks and progress updates happen outside it.
Both ends are read from `time.perf_counter_ns` (CLOCK_MONOTONIC on Linux, system-wide), so a sample that
ends in another process's event stays on one clock.

Two sides of an A/B can measure in one process, each in its own thread, taking turns (`Turnstile`): only the
thread holding the turn runs, and the Sampler hands the turn over every few timed calls, so each case of both
sides is measured in alternating stretches of milliseconds. This host's speed changes in streaks of milliseconds to
seconds (docs/findings/placement.md); stretches that short put both sides in the same streaks.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from baseline.progress import NULL, Progress

Clock = Callable[[], int]
#: Turns each side takes per case when two sides take turns (see Turnstile); the Sampler hands over every
#: ceil(samples / TURNS_PER_CASE) timed calls.
TURNS_PER_CASE = 8


class Turnstile:
    """Threads (one per side) that take turns: only the holder runs; `hand_over` passes the turn to the next side
    still measuring and waits for it to come back; a side that is done `leave`s and never blocks the others."""

    def __init__(self, order: Sequence[str]) -> None:
        if len(set(order)) != len(order) or not order:
            raise ValueError(f"a turnstile needs distinct sides, got {list(order)!r}")
        self._order = list(order)
        self._active = set(order)
        self._holder: str | None = order[0]
        self._cond = threading.Condition()
        self.handovers = 0

    def wait_for_turn(self, side: str) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._holder == side)

    def _next_after(self, side: str) -> str | None:
        start = self._order.index(side)
        for step in range(1, len(self._order) + 1):
            candidate = self._order[(start + step) % len(self._order)]
            if candidate in self._active:
                return candidate
        return None

    def hand_over(self, side: str) -> None:
        with self._cond:
            following = self._next_after(side)
            if following is None or following == side:
                return
            self._holder = following
            self.handovers += 1
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._holder == side)

    def leave(self, side: str) -> None:
        with self._cond:
            self._active.discard(side)
            if self._holder == side:
                self._holder = self._next_after(side) if self._active else None
            self._cond.notify_all()


_turns = threading.local()


@contextlib.contextmanager
def taking_turns(turnstile: Turnstile, side: str) -> Iterator[None]:
    """This thread measures as `side` of `turnstile`: it waits for its first turn here and leaves on exit."""
    turnstile.wait_for_turn(side)
    _turns.bound, _turns.exclusive = (turnstile, side), 0
    try:
        yield
    finally:
        _turns.bound = None
        turnstile.leave(side)


def hand_over() -> int:
    """Give the turn to the other side, when this thread takes turns and is not in an `exclusive` section; the ns
    spent waiting for it to come back (0 when there was nothing to hand over)."""
    bound = getattr(_turns, "bound", None)
    if bound is None or _turns.exclusive:
        return 0
    turnstile, side = bound
    started = time.perf_counter_ns()
    turnstile.hand_over(side)
    return time.perf_counter_ns() - started


@contextlib.contextmanager
def exclusive() -> Iterator[None]:
    """Keep the turn throughout (e.g. a profiled pass, whose profiler must not run into the other side's turn)."""
    if getattr(_turns, "bound", None) is None:
        yield
        return
    _turns.exclusive += 1
    try:
        yield
    finally:
        _turns.exclusive -= 1


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
        paused = 0  # ns spent waiting while the other side had the turn: not this case's time
        done = 0
        turn_every = math.ceil(self.samples / TURNS_PER_CASE)
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
            if cycle < self.samples and clock() - measure_start - paused > budget_ns:
                stopped_by = "budget"
                break
            if cycle % turn_every == 0:
                paused += hand_over()  # outside the timed calls; a no-op unless two sides take turns
        elapsed = (clock() - measure_start - paused) / 1e9
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
