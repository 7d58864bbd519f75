"""The pipeline's one console: a live line (run i/N, phase, case j/K, elapsed, ETA) at a terminal, and one plain
line per phase in a log. Finished phases print their figures above the live line; nothing else is shown unless
`-v` asks for the phase processes' own output.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from baseline.pipeline.eta import CaseClock, PhaseClock, fmt_duration, remaining_s


def compact_ids(ids: Sequence[str]) -> str:
    """Cases measured in turn, on one line: `e2e/reference/{linear,diamond}` for ids that share all but their end."""
    if len(ids) < 2:
        return "".join(ids)
    heads = {case_id.rpartition("/")[0] for case_id in ids}
    if len(heads) != 1:
        return " + ".join(ids)
    head = heads.pop()
    return f"{head}/{{{','.join(case_id.rpartition('/')[2] for case_id in ids)}}}"


class PipelineDisplay:
    """Fed by the pipeline (steps starting and ending) and by the phase processes' progress events."""

    def __init__(
        self,
        console: Console,
        *,
        title: str,
        schedule: Sequence[tuple[int, str]],
        runs: int,
        typical: dict[str, float],
        live: bool,
        unit: str = "run",
    ) -> None:
        self.console, self.title, self.runs, self.unit = console, title, runs, unit
        self.schedule = list(schedule)  # (run number, step name) in order, up and down included
        self.typical = dict(typical)
        self.position = 0
        self.run_index = 0
        self.phase: PhaseClock | None = None
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._live = (
            Live(console=console, get_renderable=self._render, refresh_per_second=4, transient=True) if live else None
        )

    # -------------------------------------------------------------------------------------------- lifecycle

    def __enter__(self) -> PipelineDisplay:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()

    # -------------------------------------------------------------------------------------------- events

    def step_started(self, run: int, name: str) -> None:
        with self._lock:
            for index in range(self.position, len(self.schedule)):
                if self.schedule[index] == (run, name):
                    self.position = index
                    break
            self.run_index = sorted({r for r, _ in self.schedule}).index(run) + 1
            self.phase = PhaseClock(name=name, started=time.monotonic())

    def step_finished(self, run: int, name: str, status: str, seconds: float, lines: Sequence[str] = ()) -> None:
        with self._lock:
            if status == "ok":
                self.typical[name] = seconds
            self.phase = None
            self.position = min(self.position + 1, len(self.schedule))
        mark = {"ok": "ok", "failed": "FAILED", "skipped": "skipped", "interrupted": "INTERRUPTED"}.get(status, status)
        where = f"{self.unit} {self.run_index}/{self.runs}  "
        where = " " * len(where) if name.startswith("build") else where
        self.print(f"{where}{name:<18} {mark:<8} {seconds:7.1f} s")
        for line in lines:
            self.print(f"    {line}")

    def progress(self, event: dict[str, Any]) -> None:
        """One JSON event from the running phase process (see baseline.progress.PipeProgress)."""
        with self._lock:
            phase = self.phase
            if phase is None:
                return
            now = time.monotonic()
            kind = event.get("event")
            if kind == "cases":
                phase.cases_total = int(event.get("total") or 0) or None
            elif kind == "case":
                ids = [str(i) for i in event.get("ids") or []]
                phase.case = CaseClock(ids, int(event.get("samples") or 1), float(event.get("budget_s") or 0.0), now)
            elif kind == "tick" and phase.case is not None:
                phase.case.done = int(event.get("done") or 0)
            elif kind == "case_done" and phase.case is not None:
                phase.finished.append(now - phase.case.started)
                phase.case = None

    def print(self, text: str) -> None:
        """A line above the live display (or a plain line in a log)."""
        self.console.print(Text(text))

    # -------------------------------------------------------------------------------------------- rendering

    def eta_s(self) -> float | None:
        upcoming = [name for _, name in self.schedule[self.position + 1 :]]
        return remaining_s(time.monotonic(), self.phase, upcoming, self.typical)

    def _render(self) -> Group | Table:
        with self._lock:
            phase = self.phase
            now = time.monotonic()
            head = Text.assemble(
                (f"{self.title}", "bold"),
                f"  {self.unit} {self.run_index}/{self.runs}",
                ("  " + (phase.name if phase else "…"), "cyan"),
            )
            case_text = ""
            bar = None
            if phase is not None and phase.case is not None:
                case = phase.case
                of = f"/{phase.cases_total}" if phase.cases_total else ""
                case_text = f"  case {phase.case_number}{of}  {compact_ids(case.ids)}  {case.done}/{case.total}"
                bar = ProgressBar(total=max(case.total, 1), completed=case.done, width=40)
            timing = Text(
                f"  elapsed {fmt_duration(now - self.started)}  ETA {fmt_duration(self.eta_s())}", style="dim"
            )
        head.append(case_text)
        grid = Table.grid(padding=(0, 1))
        grid.add_row(head)
        if bar is not None:
            row = Table.grid(padding=(0, 1))
            row.add_row(bar, timing)
            grid.add_row(row)
        else:
            grid.add_row(timing)
        return grid
