"""Progress of a bench while it measures: cases started, samples taken, cases finished.

A bench reports to a `Progress`; which one depends on who is watching. Under a pipeline, each phase process
writes one JSON object per line to the pipe the pipeline passed it (`BASELINE_PROGRESS_FD`), and the pipeline's
one display shows run, phase, case, elapsed and ETA. A bench run alone at a terminal shows a progress bar;
in a log (no terminal, or CI) it shows nothing until its result lines.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from typing import IO, Any, Protocol

PROGRESS_FD_ENV = "BASELINE_PROGRESS_FD"
_TICK_INTERVAL_S = 0.2  # a pipe message per 0.2 s at most: the bench's own CPU stays negligible


class Progress(Protocol):
    def expect_cases(self, total: int) -> None:
        """How many cases this bench will measure in all, once it knows."""
        ...

    def case_started(self, case_ids: Sequence[str], samples: int, budget_s: float) -> None:
        """Cases measured together (round robin), each up to `samples` within `budget_s` seconds per case."""
        ...

    def advance(self, done: int) -> None:
        """Samples taken so far in the current case(s), all cases together."""
        ...

    def case_finished(self, samples: int, elapsed_s: float) -> None: ...

    def close(self) -> None: ...


class NullProgress:
    def expect_cases(self, total: int) -> None:
        return None

    def case_started(self, case_ids: Sequence[str], samples: int, budget_s: float) -> None:
        return None

    def advance(self, done: int) -> None:
        return None

    def case_finished(self, samples: int, elapsed_s: float) -> None:
        return None

    def close(self) -> None:
        return None


NULL = NullProgress()


class PipeProgress:
    """JSON lines to the pipeline that started this phase process; never blocks the bench for long."""

    def __init__(self, stream: IO[str], clock: Any = time.monotonic) -> None:
        self.stream, self.clock = stream, clock
        self._last_tick = float("-inf")

    def _send(self, event: dict[str, Any]) -> None:
        try:
            self.stream.write(json.dumps(event) + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # the pipeline went away: measuring goes on, unwatched
            self.stream = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process

    def expect_cases(self, total: int) -> None:
        self._send({"event": "cases", "total": total})

    def case_started(self, case_ids: Sequence[str], samples: int, budget_s: float) -> None:
        self._send({"event": "case", "ids": list(case_ids), "samples": samples, "budget_s": budget_s})

    def advance(self, done: int) -> None:
        now = self.clock()
        if now - self._last_tick >= _TICK_INTERVAL_S:
            self._last_tick = now
            self._send({"event": "tick", "done": done})

    def case_finished(self, samples: int, elapsed_s: float) -> None:
        self._send({"event": "case_done", "samples": samples, "elapsed_s": round(elapsed_s, 3)})

    def close(self) -> None:
        return None


class BarProgress:
    """A rich progress bar per case, for a person running one bench at a terminal."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=True,
            refresh_per_second=4,
        )
        self._task: Any = None
        self._cases = 0
        self._total: int | None = None

    def expect_cases(self, total: int) -> None:
        self._total = total

    def case_started(self, case_ids: Sequence[str], samples: int, budget_s: float) -> None:
        self._cases += len(case_ids)
        of = f"/{self._total}" if self._total else ""
        label = f"[{self._cases}{of}] " + " + ".join(case_ids)
        if self._task is None:
            self._bar.start()
        else:
            self._bar.remove_task(self._task)
        self._task = self._bar.add_task(label, total=samples * len(case_ids))

    def advance(self, done: int) -> None:
        if self._task is not None:
            self._bar.update(self._task, completed=done)

    def case_finished(self, samples: int, elapsed_s: float) -> None:
        return None

    def close(self) -> None:
        if self._task is not None:
            self._bar.stop()


def interactive() -> bool:
    """A person at a terminal: never in CI logs or piped output."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def for_this_process() -> Progress:
    """The pipe to the pipeline when one started this process, a bar at a terminal, else nothing."""
    fd = os.environ.get(PROGRESS_FD_ENV, "").strip()
    if fd.isdigit():
        try:
            return PipeProgress(os.fdopen(int(fd), "w", buffering=1))
        except OSError:
            return NULL
    return BarProgress() if interactive() else NULL
