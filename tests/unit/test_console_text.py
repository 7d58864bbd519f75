"""The lines the console prints after a bench (per case group) and after a baseline (key cases)."""

from __future__ import annotations

from baseline.reports.text import case_group, case_group_lines, headline_rows


def _case(case_id: str, p50: float, p95: float) -> dict:
    return {"id": case_id, "summary": {"p50": p50, "p95": p95}}


def test_cases_are_grouped_by_their_id_without_the_last_part() -> None:
    assert case_group("sql/get_next_ready_tasks/batch_size=10") == "sql/get_next_ready_tasks"
    assert case_group("worker/claim") == "worker/claim"


def test_a_group_line_spans_its_cases_p50_and_p95() -> None:
    lines = case_group_lines(
        [
            _case("sql/f/batch_size=1", 200_000, 300_000),
            _case("sql/f/batch_size=10", 1_500_000, 2_000_000),
            _case("worker/claim", 700_000, 700_000),
        ]
    )
    assert lines == [
        "sql/f         p50 200 µs to 1.5 ms  p95 300 µs to 2 ms  (2 cases)",
        "worker/claim  p50 700 µs  p95 700 µs",
    ]


def test_headline_rows_follow_the_key_cases_and_skip_the_unrecorded() -> None:
    summary = {
        "cases": [
            {
                "id": "e2e/workflow/linear",
                "runs": [{"p50": 13e6}, {"p50": 15e6}],
                "pooled": {"p50": 14e6, "p95": 20e6},
                "cv": 0.101,
                "unstable": True,
            }
        ]
    }
    rows = headline_rows(summary, ["sql/missing", "e2e/workflow/linear"])
    assert rows == [["e2e/workflow/linear", "13 ms / 15 ms", "14 ms", "20 ms", "10.1%", "UNSTABLE"]]
