"""The pipeline's console, fed the events a pipeline and its phase processes send, rendered as text."""

from __future__ import annotations

import io

from rich.console import Console

from baseline.pipeline.display import PipelineDisplay, compact_ids


def _display(out: io.StringIO) -> PipelineDisplay:
    schedule = [(run, name) for run in (1, 2) for name in ("up", "sql", "e2e", "down")]
    console = Console(file=out, width=160, force_terminal=False, no_color=True)
    return PipelineDisplay(
        console, title="pre-refactor", schedule=schedule, runs=2, typical={"up": 2.0, "down": 1.0}, live=False
    )


def test_the_live_line_shows_run_phase_case_counts_and_an_eta_once_durations_are_known() -> None:
    out = io.StringIO()
    display = _display(out)
    display.step_started(2, "sql")
    display.progress({"event": "cases", "total": 4})
    display.progress({"event": "case", "ids": ["sql/a"], "samples": 50, "budget_s": 5.0})
    display.progress({"event": "tick", "done": 10})
    text = _rendered(display)
    assert "pre-refactor" in text and "run 2/2" in text and "sql" in text
    assert "case 1/4  sql/a  10/50" in text
    assert "ETA ?" in text  # e2e has not been seen yet: no guess
    display.typical["e2e"] = 30.0
    assert "ETA ?" not in _rendered(display)


def test_finished_phases_print_one_line_each_with_their_figures() -> None:
    out = io.StringIO()
    display = _display(out)
    display.step_started(1, "up")
    display.step_finished(1, "up", "ok", 2.04, ["embedded services"])
    display.step_started(1, "sql")
    display.step_finished(1, "sql", "failed", 1.5)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["run", "1/2", "up", "ok", "2.0", "s"]
    assert lines[1].strip() == "embedded services"
    assert lines[2].split() == ["run", "1/2", "sql", "FAILED", "1.5", "s"]
    assert display.typical["up"] == 2.04 and "sql" not in display.typical  # a failed phase is no estimate


def _rendered(display: PipelineDisplay) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=160, force_terminal=False, no_color=True).print(display._render())
    return buffer.getvalue()


def test_cases_in_turn_share_their_common_part_on_the_line() -> None:
    assert compact_ids(["e2e/reference/linear", "e2e/reference/diamond"]) == "e2e/reference/{linear,diamond}"
    assert compact_ids(["sql/a", "event/b"]) == "sql/a + event/b"
    assert compact_ids(["sql/x/n=1"]) == "sql/x/n=1"
