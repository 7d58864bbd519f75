"""The verdict check's counts: false alarms of A/A runs, detections of injected slowdowns, detectable effects."""

from __future__ import annotations

from typing import Any

from baseline.verdict_tally import render_markdown, run_record, tally


def _verdict(failed: list[str], functions: dict[str, str], cases: list[tuple[str, str, float]]) -> dict[str, Any]:
    return {
        "passed": not failed,
        "gates": [{"name": g, "passed": g not in failed} for g in ("sql_unchanged", "e2e_within_max_ratio")],
        "functions": [{"function": f, "verdict": v} for f, v in functions.items()],
        "cases": [{"id": i, "verdict": v, "mde": m, "calibration": None} for i, v, m in cases],
    }


def test_runs_are_counted_by_kind() -> None:
    aa_clean = _verdict(
        [], {"f": "unchanged", "g": "unchanged"}, [("sql/f/1", "unchanged", 0.04), ("e2e/x", "unchanged", 0.08)]
    )
    aa_alarm = _verdict(["sql_unchanged"], {"f": "regressed", "g": "unchanged"}, [("sql/f/1", "regressed", 0.06)])
    found = _verdict(
        ["sql_unchanged"],
        {"f": "regressed", "g": "improved"},
        [("sql/f/1", "regressed", 0.05), ("sql/f/2", "regressed", 0.05)],
    )
    partly = _verdict(
        ["sql_unchanged"], {"f": "regressed"}, [("sql/f/1", "regressed", 0.05), ("sql/f/2", "inconclusive", 0.09)]
    )
    slow_e2e = _verdict(["e2e_within_max_ratio"], {}, [("e2e/x", "regressed", 0.05)])
    records = {
        "aa": [run_record(aa_clean), run_record(aa_alarm)],
        "sql": [run_record(found, function="f"), run_record(partly, function="f")],
        "e2e": [run_record(slow_e2e)],
    }
    result = tally(records, function="f")
    assert result["aa"]["runs_with_a_failed_gate"] == 1 and result["aa"]["gate_failures"] == {"sql_unchanged": 1}
    assert result["aa"]["functions_flagged"] == {"f": 1} and result["aa"]["unchanged_share_median"] == 0.5
    assert result["aa"]["mde"] == {"sql": 0.05, "e2e": 0.08}
    assert result["sql"] == {
        "runs": 2,
        "gate_failed": 2,
        "every_case_regressed": 1,
        "function_regressed": 2,
        "other_functions_flagged": {"g": 1},
    }
    assert result["e2e"] == {"runs": 1, "gate_failed": 1}
    report = render_markdown(
        {
            "tally": result,
            "repeats": 2,
            "started_at": "t",
            "minutes": 3.0,
            "revision": "abc",
            "function": "f",
            "sql_amount": 0.1,
            "e2e_amount": 0.15,
            "injections": ["sql: f slowed"],
        }
    )
    assert "| A/A (2) | runs with a failed gate (false alarms) | 1 of 2" in report
    row = "| +10% f (2) | sql_unchanged failed / every case of the function regressed / other functions flagged |"
    assert f"{row} 2 / 1 of 2 / {{'g': 1}} |" in report
