"""The profile table's pure parts: rows from synthetic folded stacks with known shares, and its markdown."""

from __future__ import annotations

import pytest

from baseline.profiling.hotpaths import LOW_SAMPLES
from baseline.profiling.report import ProfileRow, format_top, is_idle, render_markdown, summarize_profile

STACKS = {
    "main (app.py);handle (app.py);encode (json/encoder.py)": 30,
    "main (app.py);handle (app.py);query (db.py);Connection.wait (psycopg/connection.py)": 20,
    "main (app.py);handle (app.py)": 10,
    "main (app.py);compute (app.py)": 5,
    "Thread.run (threading.py);ConnectionPool.worker (psycopg_pool/pool.py);Condition.wait (threading.py)": 25,
    "main (app.py);loop (app.py);select (selectors.py)": 10,
}


def test_top_frames_rank_working_stacks_by_self_share_of_all_samples() -> None:
    row = summarize_profile(2, "e2e-api", "run-2/profiles/e2e-api.svg", STACKS)
    assert row.samples == 100
    assert row.idle_share == pytest.approx(0.35)  # the pool thread's Condition.wait and the select loop
    assert row.top == [
        ("encode (json/encoder.py)", pytest.approx(0.30)),
        ("Connection.wait (psycopg/connection.py)", pytest.approx(0.20)),
        ("handle (app.py)", pytest.approx(0.10)),
    ]
    assert format_top(row).splitlines()[0] == "encode (json/encoder.py) 30.0%"


def test_top_is_limited_and_ties_break_by_name() -> None:
    row = summarize_profile(1, "x", "x.svg", {"a;b": 5, "a;c": 5, "a;d": 1}, top=2)
    assert [frame for frame, _ in row.top] == ["b", "c"]


def test_empty_profile_gives_an_empty_row_not_an_error() -> None:
    row = summarize_profile(1, "sql-bench", "run-1/profiles/sql-bench.svg", {})
    assert row.samples == 0 and row.idle_share == 0.0 and row.top == []
    assert format_top(row) == "(no working samples)"


@pytest.mark.parametrize(
    ("stack", "idle"),
    [
        ("Thread.run (threading.py);ConnectionPool.worker (psycopg_pool/pool.py);Condition.wait (threading.py)", True),
        ("main (w.py);Connection.wait (psycopg/connection.py)", False),
        ("main (w.py);EpollSelector.select (selectors.py)", True),
        ("main (w.py);work (w.py)", False),
    ],
)
def test_idle_means_a_wait_leaf_outside_the_database_driver(stack: str, idle: bool) -> None:
    assert is_idle(stack.split(";")) is idle


def test_markdown_links_each_flamegraph_and_lists_notes() -> None:
    rows = [
        summarize_profile(1, "e2e-api", "run-1/profiles/e2e-api.svg", STACKS),
        ProfileRow(
            1,
            "e2e-worker-1",
            "run-1/profiles/e2e-worker-1.svg",
            7,
            0.5,
            [("f|g (w.py)", 0.25)],
            ["worker-1 exited during capture"],
        ),
    ]
    text = render_markdown("pre-refactor", rows)
    assert text.startswith("# Profiles of `pre-refactor`")
    assert "| 1 | [e2e-api](run-1/profiles/e2e-api.svg) | 100 ⚠ | 35.0% | `encode (json/encoder.py)` 30.0%<br>" in text
    assert "[e2e-worker-1](run-1/profiles/e2e-worker-1.svg) ⚠ | 7 ⚠ | 50.0% | `f\\|g (w.py)` 25.0% |" in text
    views = "[working time](run-1/profiles/e2e-api.working.svg) · [speedscope](run-1/profiles/e2e-api.speedscope.json)"
    assert text.count(views) == 1 and "drop the file on https://www.speedscope.app" in text
    assert "- run 1 `e2e-worker-1`: worker-1 exited during capture" in text
    assert "2 flamegraphs" in text


def test_markdown_flags_only_profiles_under_the_low_sample_threshold() -> None:
    rows = [ProfileRow(1, "big", "big.svg", LOW_SAMPLES, 0.0, []), ProfileRow(1, "empty", "empty.svg", 0, 0.0, [])]
    text = render_markdown("x", rows)
    assert f"| {LOW_SAMPLES} | " in text and "| 0 | " in text
