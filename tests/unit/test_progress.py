"""Progress events: the Sampler reports each case's start, counts and end; the pipe carries them as JSON lines."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence

from baseline.measure import Operation, Sampler
from baseline.progress import PipeProgress


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[object, ...]] = []

    def expect_cases(self, total: int) -> None:
        self.events.append(("cases", total))

    def case_started(self, case_ids: Sequence[str], samples: int, budget_s: float) -> None:
        self.events.append(("case", tuple(case_ids), samples, budget_s))

    def advance(self, done: int) -> None:
        self.events.append(("tick", done))

    def case_finished(self, samples: int, elapsed_s: float) -> None:
        self.events.append(("done", samples))

    def close(self) -> None:
        self.events.append(("close",))


def test_the_sampler_reports_start_counts_per_cycle_and_end() -> None:
    recorder = Recorder()
    ops = [Operation("a", lambda: None), Operation("b", lambda: None)]
    Sampler(samples=3, warmup=1, time_budget_s=5, progress=recorder).run_round_robin(ops)
    assert recorder.events == [("case", ("a", "b"), 3, 5), ("tick", 2), ("tick", 4), ("tick", 6), ("done", 6)]


def test_the_pipe_sends_json_lines_and_throttles_ticks() -> None:
    clock = iter([0.0, 0.05, 0.3]).__next__
    stream = io.StringIO()
    pipe = PipeProgress(stream, clock=clock)
    pipe.expect_cases(4)
    pipe.case_started(["sql/x"], 50, 5.0)
    pipe.advance(1)  # t=0.0: the first tick is always sent
    pipe.advance(2)  # t=0.05: too soon, dropped
    pipe.advance(3)  # t=0.3: sent
    pipe.case_finished(50, 1.23456)
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert events == [
        {"event": "cases", "total": 4},
        {"event": "case", "ids": ["sql/x"], "samples": 50, "budget_s": 5.0},
        {"event": "tick", "done": 1},
        {"event": "tick", "done": 3},
        {"event": "case_done", "samples": 50, "elapsed_s": 1.235},
    ]


def test_a_broken_pipe_does_not_stop_the_bench() -> None:
    stream = io.StringIO()
    stream.close()
    pipe = PipeProgress(stream)
    pipe.case_started(["a"], 1, 1.0)  # ValueError on a closed stream: swallowed, later events go nowhere
    pipe.case_finished(1, 0.1)
