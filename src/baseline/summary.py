"""A label's runs folded into one summary: pooled statistics, per-run medians, cross-run stability.

Reading is strict on purpose: a baseline silently built from a half-written or corrupt run would be trusted
later by `compare`, so every missing or unreadable file is an error that names it. Runs the manifest marks
failed are left out, and the summary says so.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from baseline import __version__, stats, store
from baseline.reports import envdiff

PHASES = ("sql", "event", "task_init", "e2e")
SUMMARY_SCHEMA_VERSION = 1
CDF_POINTS = 101  # quantiles stored per case for the CDF plot (0%, 1%, ... 100%)


class SummaryError(ValueError):
    """Bad input for a summary (missing label, no runs, missing or corrupt file); the message names it."""


@dataclass
class RunData:
    """One usable run of a label: its number and the result files read from it."""

    run: int
    path: Path
    results: dict[str, dict[str, Any]]  # phase -> result file content
    profile_dir: Path

    @property
    def environment(self) -> dict[str, Any]:
        for phase in PHASES:
            if phase in self.results and self.results[phase].get("environment"):
                return dict(self.results[phase]["environment"])
        return {}


@dataclass
class LabelRuns:
    """Every usable run of one label, plus the runs left out and why."""

    label: str
    label_dir: Path
    runs: list[RunData]
    excluded: list[dict[str, Any]] = field(default_factory=list)

    def cases(self) -> dict[str, dict[str, Any]]:
        """case id -> {"phase", "unit", "runs": [(run, samples)], "flags", "recorded": {run: summary in the file}}."""
        out: dict[str, dict[str, Any]] = {}
        for run in self.runs:
            for phase in PHASES:
                result = run.results.get(phase)
                if result is None:
                    continue
                for case in result["cases"]:
                    entry = out.setdefault(
                        case["id"],
                        {"phase": phase, "unit": case.get("unit", "ns"), "runs": [], "flags": [], "recorded": {}},
                    )
                    samples = [float(s) for s in case.get("samples") or []]
                    if samples:
                        entry["runs"].append((run.run, samples))
                        entry["recorded"][run.run] = case.get("summary") or {}
                    entry["flags"] += [(flag, run.run) for flag in result.get("flags") or []]
        for entry in out.values():
            entry["flags"] = _flags_by_run(entry["flags"])
        return out

    def profile_files(self, suffix: str) -> list[tuple[int, Path]]:
        """(run, path) of every `run-*/profiles/*<suffix>` file, sorted."""
        return [(run.run, path) for run in self.runs for path in sorted(run.profile_dir.glob(f"*{suffix}"))]


def _flags_by_run(flags: list[tuple[str, int]]) -> list[str]:
    """One line per flag naming the runs it was raised in: "autovacuum_in_window (runs 1, 3)"."""
    runs: dict[str, list[int]] = {}
    for flag, run in flags:
        runs.setdefault(flag, []).append(run)
    return [
        f"{flag} (run{'s' if len(numbers) > 1 else ''} {', '.join(map(str, sorted(set(numbers))))})"
        for flag, numbers in runs.items()
    ]


def _run_number(run_dir: Path) -> int:
    try:
        return int(run_dir.name.split("-", 1)[1])
    except (IndexError, ValueError):
        raise SummaryError(f"{run_dir}: run folders must be named run-<N>") from None


def _record_command(label: str) -> str:
    sessions = {"pre-refactor": "nox -s baseline_pre", "post-refactor": "nox -s baseline_post"}
    return sessions.get(label, f"invoke baseline --label {label}")


def load_label(label_dir: Path) -> LabelRuns:
    """Read every usable run of a label; raise SummaryError naming the label or file on any bad input."""
    label_dir = Path(label_dir)
    label = label_dir.name
    if not label_dir.is_dir():
        raise SummaryError(
            f"label {label!r} not found: {label_dir} does not exist (record it first: {_record_command(label)})"
        )
    manifest_runs: dict[str, dict[str, Any]] = {}
    if (label_dir / "manifest.json").exists():
        try:
            manifest_runs = dict(store.read_manifest(label_dir).get("runs") or {})
        except store.StoreError as exc:
            raise SummaryError(str(exc)) from exc
    run_dirs = store.run_dirs(label_dir)
    if not run_dirs:
        raise SummaryError(f"label {label!r} has no runs: no run-<N> folder in {label_dir}")

    present = {phase for run_dir in run_dirs for phase in PHASES if (run_dir / f"{phase}.json").exists()}
    runs: list[RunData] = []
    excluded: list[dict[str, Any]] = []
    for run_dir in run_dirs:
        number = _run_number(run_dir)
        entry = manifest_runs.get(str(number)) or {}
        status = entry.get("status")
        if status == "failed":
            excluded.append({"run": number, "status": "failed", "error": entry.get("error")})
            continue
        phases_status = entry.get("phases") or {}
        expected = [p for p in PHASES if phases_status.get(p) == "ok"] if phases_status else sorted(present)
        results: dict[str, dict[str, Any]] = {}
        for phase in PHASES:
            path = run_dir / f"{phase}.json"
            if not path.exists():
                if phase in expected:
                    raise SummaryError(f"{path} is missing (label {label!r}, run {number}); re-run that phase")
                continue
            try:
                results[phase] = store.read_result(path)
            except store.StoreError as exc:
                raise SummaryError(str(exc)) from exc
        if not results:
            excluded.append({"run": number, "status": status or "empty", "error": "no result files"})
            continue
        runs.append(RunData(number, run_dir, results, run_dir / "profiles"))
    if not runs:
        raise SummaryError(f"label {label!r} has no usable runs in {label_dir} (excluded: {excluded})")
    return LabelRuns(label, label_dir, runs, excluded)


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
        "pooled": stats.summarize(pooled.tolist()),
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
            analysis = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise SummaryError(f"{path}: unreadable hot-path file ({exc}); re-render the profile") from exc
        if isinstance(analysis, dict) and isinstance(analysis.get("analysis"), dict):
            analysis = analysis["analysis"]  # tolerate a wrapper around hotpaths.analyze's output
        if not isinstance(analysis, dict):
            raise SummaryError(f"{path}: expected a JSON object of hot paths; re-render the profile")
        out[(run, name)] = {"run": run, "name": name, "hotpaths": _hotpath_headline(analysis)}
    for run, path in data.profile_files(".svg"):
        name = path.name.removesuffix(".svg")
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
        raise SummaryError(f"cv_threshold must be a positive fraction such as 0.10, got {cv_threshold!r}")
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
        "phases": [p for p in PHASES if any(p in run.results for run in data.runs)],
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


def write_text_atomic(path: Path, text: str) -> None:
    """Write via a temp file in the same folder and os.replace, so readers never see half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_reports(label_dir: Path, summary: dict[str, Any]) -> list[Path]:
    """Render report.md and report.html of a summary into the label folder."""
    from baseline.reports import html, markdown

    label_dir = Path(label_dir)
    md_path, html_path = label_dir / "report.md", label_dir / "report.html"
    write_text_atomic(md_path, markdown.render_summary(summary))
    write_text_atomic(html_path, html.render_summary(summary))
    return [md_path, html_path]


def write_summary(label_dir: Path, *, cv_threshold: float) -> tuple[dict[str, Any], list[Path]]:
    """Build the summary and write summary.json, report.md and report.html atomically; returns paths."""
    summary = build_summary(label_dir, cv_threshold=cv_threshold)
    path = Path(label_dir) / "summary.json"
    store.write_json_atomic(path, summary)
    return summary, [path, *write_reports(label_dir, summary)]


def read_summary(label_dir: Path) -> dict[str, Any]:
    """summary.json of a label, refusing files this version cannot read."""
    path = Path(label_dir) / "summary.json"
    try:
        summary = json.loads(path.read_text())
    except FileNotFoundError:
        raise SummaryError(f"{path} not found: run `baseline summarize --label {Path(label_dir).name}`") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise SummaryError(f"{path}: not valid JSON ({exc}); re-run summarize") from exc
    if not isinstance(summary, dict) or summary.get("schema_version") != SUMMARY_SCHEMA_VERSION:
        raise SummaryError(f"{path}: schema_version must be {SUMMARY_SCHEMA_VERSION}; re-run summarize")
    return summary
