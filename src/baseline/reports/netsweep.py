"""The network-delay sweep's report: E2E and task-creation p50 against the delay each container adds (pure).

A point is one delay with, per case, the p50 of every sample of its runs pooled (`pooled_p50`). The plot has one
line per case, the table the p50s and their growth over the smallest delay's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from baseline.reports.svgplots import line_plot
from baseline.reports.units import fmt_ns
from baseline.stats import percentile

PLOTTED_PREFIXES = ("e2e/workflow/", "task_init/create_task/")


def pooled_p50(runs: Sequence[Sequence[int]]) -> dict[str, Any]:
    """p50 of the samples of every run together, with the count of samples and runs."""
    pooled = [s for run in runs for s in run]
    return {"p50_ns": percentile(pooled, 50) if pooled else None, "n": len(pooled), "runs": len(runs)}


def _case_ids(points: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for point in points:
        for case_id in point["cases"]:
            seen.setdefault(case_id, None)
    return list(seen)


def sweep_svg(points: Sequence[Mapping[str, Any]]) -> str:
    """One line per E2E workflow and task-creation case: p50 (y) against the delay (x, ms)."""
    lines = []
    for case_id in _case_ids(points):
        if not case_id.startswith(PLOTTED_PREFIXES):
            continue
        xy = [
            (float(p["delay_ms"]), float(p["cases"][case_id]["p50_ns"]))
            for p in points
            if p["cases"].get(case_id, {}).get("p50_ns") is not None
        ]
        lines.append((case_id, xy))
    return line_plot(
        lines, title="p50 against the delay every container adds to its packets", x_label="added delay per hop (ms)"
    )


def sweep_markdown(label: str, points: Sequence[Mapping[str, Any]], note: str) -> str:
    """The sweep as a table: a row per case, a column per delay (p50, and its growth over the first delay's)."""
    ordered = sorted(points, key=lambda p: float(p["delay_ms"]))
    head = "| case | " + " | ".join(f"{float(p['delay_ms']):g} ms" for p in ordered) + " |"
    rule = "|---|" + "---:|" * len(ordered)
    rows = []
    for case_id in _case_ids(ordered):
        first = ordered[0]["cases"].get(case_id, {}).get("p50_ns") if ordered else None
        cells = []
        for point in ordered:
            p50 = point["cases"].get(case_id, {}).get("p50_ns")
            if p50 is None:
                cells.append("-")
            elif first and point is not ordered[0]:
                cells.append(f"{fmt_ns(p50)} (+{fmt_ns(p50 - first)})")
            else:
                cells.append(fmt_ns(p50))
        rows.append(f"| {case_id} | " + " | ".join(cells) + " |")
    labels = ", ".join(str(p["label"]) for p in ordered)
    return "\n".join([f"# Network delay sweep: {label}", "", note, "", f"Labels: {labels}", "", head, rule, *rows, ""])
