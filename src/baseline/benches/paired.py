"""One bench phase of both sides of an A/B in one process, the sides taking turns every few timed calls.

Each side runs the ordinary bench (`run_bench`: its own config, label, stack and result file) in a thread of its
own; a `measure.Turnstile` lets only one of them run at a time, so one side carries load at a time, as in separate
blocks, while the stretches each side measures are milliseconds apart instead of seconds. A side that fails leaves
the turnstile, so the other finishes; the failure is then raised naming the side.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from baseline import progress
from baseline.benches.common import run_bench
from baseline.config import Config
from baseline.errors import BadInput, Failure, HarnessError
from baseline.measure import Turnstile, taking_turns
from baseline.phases import Phase

#: The sides of a paired bench, as JSON: {"order": [first, second], "sides": {side: {BASELINE_* variable: value}}}.
PAIR_ENV = "BASELINE_PAIR"


def run_paired(configs: Mapping[str, Config], phase: Phase, order: Sequence[str]) -> dict[str, Path]:
    """Run `phase` for every side in `configs`, `order[0]` first; the result file of each side."""
    if set(order) != set(configs):
        raise ValueError(f"order {list(order)!r} must name the sides {sorted(configs)!r}")
    turnstile = Turnstile(order)
    written: dict[str, Path] = {}
    failed: dict[str, BaseException] = {}
    reporter = progress.for_this_process()  # the first side's progress only: one case line, not two

    def measure(side: str) -> None:
        try:
            with taking_turns(turnstile, side):
                path, _ = run_bench(configs[side], phase, reporter=reporter if side == order[0] else progress.NULL)
                written[side] = path
        except BaseException as exc:  # reported below, after the other side finished
            failed[side] = exc

    threads = [threading.Thread(target=measure, args=(side,), name=f"bench-{side}", daemon=True) for side in order]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        reporter.close()
    if failed:
        message = f"{phase.name}: " + "; ".join(f"{side} side: {exc}" for side, exc in failed.items())
        first = next(iter(failed.values()))
        for side, exc in failed.items():
            if not isinstance(exc, HarnessError):  # a bug or an interrupt: its own traceback, not a message
                exc.add_note(f"in the {side} side of {phase.name}")
                raise exc
        kind = BadInput if all(isinstance(exc, BadInput) for exc in failed.values()) else Failure
        raise kind(message) from first
    return written
