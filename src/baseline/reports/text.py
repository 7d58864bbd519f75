"""Plain-text lines the console prints: a bench's result per case group, and a baseline's headline table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from baseline.reports.units import fmt_ns, fmt_pct


def case_group(case_id: str) -> str:
    """`sql/get_next_ready_tasks/batch_size=10` -> `sql/get_next_ready_tasks`; a two-part id is its own group."""
    parts = case_id.split("/")
    return "/".join(parts[:-1]) if len(parts) > 2 else case_id


def _span(values: Sequence[float]) -> str:
    low, high = min(values), max(values)
    return fmt_ns(low) if low == high else f"{fmt_ns(low)} to {fmt_ns(high)}"


def case_group_lines(cases: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per group of cases (in first-seen order): the range of their p50s and p95s, and how many."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for case in cases:
        groups.setdefault(case_group(str(case["id"])), []).append(case)
    width = max((len(g) for g in groups), default=0)
    lines = []
    for group, members in groups.items():
        p50 = [float(c["summary"]["p50"]) for c in members]
        p95 = [float(c["summary"]["p95"]) for c in members]
        count = f"  ({len(members)} cases)" if len(members) > 1 else ""
        lines.append(f"{group:<{width}}  p50 {_span(p50)}  p95 {_span(p95)}{count}")
    return lines


HEADLINE_HEADERS = ("case", "p50 per run", "pooled p50", "p95", "cross-run CV", "")


def headline_rows(summary: Mapping[str, Any], key_cases: Sequence[str]) -> list[list[str]]:
    """The key cases of a summary (in the target's order; those not recorded are left out): per-run medians,
    pooled p50 and p95, the cross-run CV and whether it exceeds the stability threshold."""
    by_id = {case["id"]: case for case in summary.get("cases", [])}
    rows = []
    for case_id in key_cases:
        case = by_id.get(case_id)
        if case is None:
            continue
        per_run = " / ".join(fmt_ns(run["p50"]) for run in case["runs"])
        rows.append(
            [
                case_id,
                per_run,
                fmt_ns(case["pooled"]["p50"]),
                fmt_ns(case["pooled"]["p95"]),
                fmt_pct(case["cv"]),
                "UNSTABLE" if case["unstable"] else "",
            ]
        )
    return rows
