"""A label's summary in the formats of continuous-benchmarking services.

- Bencher Metric Format (https://bencher.dev/docs/reference/bencher-metric-format): per case a `latency`
  measure in nanoseconds, its value the pooled p50 and its bounds the p50's 95% CI from the summary's run-level
  (hierarchical) bootstrap: runs resampled, then samples within them.
- github-action-benchmark `customSmallerIsBetter`: a list of {name, unit, value, range, extra}.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from baseline import store
from baseline import summary as summary_mod
from baseline.errors import BadInput
from baseline.results import read_summary

FORMATS = ("bencher", "github")
DEFAULT_NAMES = {"bencher": "bencher.json", "github": "github-benchmark.json"}


def to_bencher(summary: dict[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """BMF JSON: {"<case id>": {"latency": {"value", "lower_value", "upper_value"}}} (nanoseconds)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for case in summary["cases"]:
        pooled = case["pooled"]
        metric = {"value": float(pooled["p50"])}
        ci = pooled.get("p50_ci")
        if ci:
            metric["lower_value"], metric["upper_value"] = float(ci[0]), float(ci[1])
        out[case["id"]] = {"latency": metric}
    return out


def to_github(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """customSmallerIsBetter JSON: value = pooled p50 in ns, range = half-width of its 95% CI."""
    entries = []
    for case in summary["cases"]:
        pooled = case["pooled"]
        ci = pooled.get("p50_ci") or [pooled["p50"], pooled["p50"]]
        extra = (
            f"label {summary['label']}; runs {len(case['runs'])}; n {pooled['n']}; p95 {pooled['p95']:.0f} ns; "
            f"cv {case['cv']:.3f}{' (unstable)' if case['unstable'] else ''}"
        )
        entries.append(
            {
                "name": case["id"],
                "unit": case.get("unit", "ns"),
                "value": float(pooled["p50"]),
                "range": f"± {(float(ci[1]) - float(ci[0])) / 2:.0f}",
                "extra": extra,
            }
        )
    return entries


def export_label(label_dir: Path, fmt: str, *, cv_threshold: float, output: Path | None = None) -> Path:
    """Write the label's export in `fmt` (from summary.json, built first when absent); returns the file."""
    if fmt not in FORMATS:
        raise BadInput(f"export format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    label_dir = Path(label_dir)
    if (label_dir / "summary.json").exists():
        summary = read_summary(label_dir)
    else:
        summary, _ = summary_mod.write_summary(label_dir, cv_threshold=cv_threshold)
    data = to_bencher(summary) if fmt == "bencher" else to_github(summary)
    path = Path(output) if output else label_dir / DEFAULT_NAMES[fmt]
    store.write_json_atomic(path, data)
    return path
