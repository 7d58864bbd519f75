"""A label's runs folded into one summary: pooled statistics, per-run medians, cross-run stability.

The runs come from `results.load_label` (strict: a missing or corrupt file is bad input naming it; runs the
manifest marks failed are left out, and the summary says so); summary.json and the reports go through the store.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from baseline import __version__, stats, store
from baseline.errors import BadInput
from baseline.reports import envdiff
from baseline.results import SUMMARY_SCHEMA_VERSION, LabelRuns, RunData, StoreError, load_label, read_json

CDF_POINTS = 101  # quantiles stored per case for the CDF plot (0%, 1%, ... 100%)


def _box(samples: np.ndarray) -> dict[str, float]:
    """Box-plot numbers: quartiles and Tukey whiskers (furthest samples within 1.5 IQR of the box)."""
    q1, median, q3 = (float(v) for v in np.percentile(samples, [25, 50, 75]))
    fence = 1.5 * (q3 - q1)
    inside = samples[(samples >= q1 - fence) & (samples <= q3 + fence)]
    return {"lo": float(inside.min()), "q1": q1, "median": median, "q3": q3, "hi": float(inside.max())}


def _recorded_or_computed(recorded: dict[str, Any] | None, samples: list[float]) -> dict[str, Any]:
    """The run's summary as the bench recorded it (same stats.summarize) when it matches its samples, else
    computed here: recomputing every run's bootstraps would triple the cost of a summary."""
    if recorded and recorded.get("n") == len(samples) and all(k in recorded for k in ("p50", "p50_ci", "p95")):
        return recorded
    return stats.summarize(samples)


def _pooled(per_run: list[list[float]], pooled: np.ndarray) -> dict[str, Any]:
    """The pooled statistics, their p50 and p95 CIs from the run-level (hierarchical) bootstrap: the run, not the
    sample, is the unit of replication, so the interval shows how much the runs differ (with one run, the
    samples')."""
    summary: dict[str, Any] = dict(stats.summarize(pooled.tolist()))
    summary["p50_ci"] = stats.hierarchical_quantile_ci(per_run, 50.0)
    summary["p95_ci"] = stats.hierarchical_quantile_ci(per_run, 95.0)
    summary["ci_method"] = "hierarchical bootstrap (runs, then samples)"
    return summary


def summarize_case(case_id: str, entry: dict[str, Any], *, cv_threshold: float) -> dict[str, Any]:
    """Pooled statistics, per-run medians with CIs, cross-run CV and the unstable flag of one case."""
    per_run = [samples for _, samples in entry["runs"]]
    pooled = np.concatenate([np.asarray(s, dtype=float) for s in per_run])
    stability = stats.run_stability(per_run, cv_threshold)
    runs = []
    for number, samples in entry["runs"]:
        run_summary = _recorded_or_computed(entry.get("recorded", {}).get(number), samples)
        runs.append(
            {
                "run": number,
                "n": run_summary["n"],
                "p50": run_summary["p50"],
                "p50_ci": run_summary["p50_ci"],
                "p95": run_summary["p95"],
                "box": _box(np.asarray(samples, dtype=float)),
            }
        )
    return {
        "id": case_id,
        "phase": entry["phase"],
        "unit": entry["unit"],
        "pooled": _pooled(per_run, pooled),
        "runs": runs,
        "cv": float(stability["cv"]),
        "unstable": bool(stability["unstable"]),
        "flags": list(dict.fromkeys(entry["flags"])),
        "cdf": [float(v) for v in np.quantile(pooled, np.linspace(0.0, 1.0, CDF_POINTS))],
    }


def _profiles(data: LabelRuns) -> list[dict[str, Any]]:
    """Per profile file: hot-path headline numbers (when analysed) and a link to its flamegraph."""
    out: dict[tuple[int, str], dict[str, Any]] = {}
    for run, path in data.profile_files(".hotpaths.json"):
        name = path.name.removesuffix(".hotpaths.json")
        try:
            analysis = read_json(path)
        except StoreError as exc:
            raise StoreError(f"{exc}; re-render the profile") from None
        if isinstance(analysis, dict) and isinstance(analysis.get("analysis"), dict):
            analysis = analysis["analysis"]  # tolerate a wrapper around hotpaths.analyze's output
        if not isinstance(analysis, dict):
            raise StoreError(f"{path}: expected a JSON object of hot paths; re-render the profile")
        out[(run, name)] = {"run": run, "name": name, "hotpaths": _hotpath_headline(analysis)}
    for run, path in data.profile_files(".svg"):
        name = path.name.removesuffix(".svg")
        if name.endswith(".working"):  # the working-time view of a profile, linked from that profile's SVG
            continue
        entry = out.setdefault((run, name), {"run": run, "name": name, "hotpaths": None})
        entry["svg"] = path.relative_to(data.label_dir).as_posix()
    return [out[key] for key in sorted(out)]


def _hotpath_headline(analysis: dict[str, Any]) -> dict[str, Any]:
    """The few numbers of a hot-path analysis worth a report row (the full analysis stays in its file)."""
    top = analysis.get("top_self") or analysis.get("top_frames") or []
    return {
        "total_samples": analysis.get("total_samples", analysis.get("total")),
        "message_passing_share": _share(analysis.get("message_passing")),
        "modules": {k: _share(v) for k, v in (analysis.get("modules") or {}).items()},
        "top": [
            {"frame": f.get("frame") or f.get("name"), "share": _share(f.get("share", f.get("self_share")))}
            for f in top[:5]
            if isinstance(f, dict)
        ],
    }


def _share(value: Any) -> float | None:
    if isinstance(value, dict):
        value = value.get("share")
    return float(value) if isinstance(value, int | float) else None


def build_summary(label_dir: Path, *, cv_threshold: float) -> dict[str, Any]:
    """Summary of every usable run of the label in `label_dir` (see module docstring for what is refused)."""
    if not 0 < cv_threshold < 10:
        raise BadInput(f"cv_threshold must be a positive fraction such as 0.10, got {cv_threshold!r}")
    data = load_label(Path(label_dir))
    env1 = data.runs[0].environment
    notes = [
        f"run {run.run} differs from run {data.runs[0].run}: {diff}"
        for run in data.runs[1:]
        for diff in envdiff.differences(env1, run.environment)
    ]
    cases = [
        summarize_case(cid, entry, cv_threshold=cv_threshold) for cid, entry in data.cases().items() if entry["runs"]
    ]
    return {
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "label": data.label,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "harness_version": __version__,
        "cv_threshold": cv_threshold,
        "runs": [run.run for run in data.runs],
        "excluded_runs": data.excluded,
        "phases": data.phases(),
        "environment": env1,
        "environment_notes": notes,
        "cases": cases,
        "unstable_cases": [c["id"] for c in cases if c["unstable"]],
        "profiles": _profiles(data),
        "profiler_cost": _profiler_cost(data),
        "profiler_cpu": _profiler_cpu(data),
        "harness_and_host": _harness_and_host(data),
    }


def _profiler_cost(data: LabelRuns) -> list[dict[str, Any]]:
    """py-spy's cost per run and workflow as the e2e bench measured it (profiled over unprofiled p50, blocks
    alternating in the same run); empty when the services were not profiled."""
    rows = []
    for run in data.runs:
        for workflow, entry in (_e2e_extra(run).get("profiled_window") or {}).items():
            ratio, ci = entry.get("overhead_ratio"), entry.get("overhead_ci")
            rows.append({"run": run.run, "workflow": workflow, "ratio": ratio, "ci": ci})
    return rows


def _profiler_cpu(data: LabelRuns) -> list[dict[str, Any]]:
    """Per run, the CPU the e2e bench's samplers used together while sampling, in cores (CPU seconds over window
    seconds): the profiler cost's cause, as 0.1 core is a twentieth of a 2-core machine. None where unrecorded."""
    rows = []
    for run in data.runs:
        windows = _e2e_extra(run).get("profiles") or []
        measured = [w for w in windows if w.get("sampler_cpu_s") and (w.get("seconds") or 0) > 0]
        cpu = sum(sum(w["sampler_cpu_s"].values()) for w in measured)
        cores = round(cpu / sum(w["seconds"] for w in measured), 4) if measured else None
        if windows:
            rows.append({"run": run.run, "cores": cores})
    return rows


def _e2e_extra(run: RunData) -> dict[str, Any]:
    return (run.results.get("e2e") or {}).get("extra") or {}


def _harness_and_host(data: LabelRuns) -> list[dict[str, Any]]:
    """Per run, what the measurements carry besides the code: the harness's own overhead (Sampler over a bare loop,
    SQL and NOTIFY), the host's floor (SELECT 1 back to back and after 15 ms idle, a server CPU loop) and the
    highest CPU steal share of any phase window. None where a phase did not record it."""
    rows = []
    for run in data.runs:
        extras = {phase: (result.get("extra") or {}) for phase, result in run.results.items()}
        sql = extras.get("sql", {}).get("calibration") or {}
        event = extras.get("event", {}).get("calibration") or {}
        steal = [e["cpu_steal_share"] for e in extras.values() if isinstance(e.get("cpu_steal_share"), int | float)]
        rows.append(
            {
                "run": run.run,
                "sql_harness_ratio": sql.get("ratio"),
                "event_harness_ratio": event.get("ratio"),
                "select_1_p50_ns": sql.get("select_1_p50_ns"),
                "select_1_after_idle_p50_ns": sql.get("select_1_after_idle_p50_ns"),
                "wake_up_ratio": sql.get("wake_up_ratio"),
                "cpu_loop_p50_ns": sql.get("cpu_loop_p50_ns"),
                "max_cpu_steal_share": max(steal) if steal else None,
            }
        )
    return rows if any(v is not None for row in rows for k, v in row.items() if k != "run") else []


def write_reports(label_dir: Path, summary: dict[str, Any]) -> list[Path]:
    """Render report.md and report.html of a summary into the label folder."""
    from baseline.reports import html, markdown

    label_dir = Path(label_dir)
    md_path, html_path = label_dir / "report.md", label_dir / "report.html"
    store.write_text_atomic(md_path, markdown.render_summary(summary))
    store.write_text_atomic(html_path, html.render_summary(summary))
    return [md_path, html_path]


def write_summary(label_dir: Path, *, cv_threshold: float) -> tuple[dict[str, Any], list[Path]]:
    """Build the summary and write summary.json, report.md and report.html atomically; returns paths."""
    summary = build_summary(label_dir, cv_threshold=cv_threshold)
    path = Path(label_dir) / "summary.json"
    store.write_json_atomic(path, summary)
    return summary, [path, *write_reports(label_dir, summary)]
