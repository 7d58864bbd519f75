"""The one reader of what the harness recorded: result files, manifests, labels, summaries, state files.

Reading is strict on purpose: a baseline silently built from a half-written or corrupt run would be trusted later
by `compare`, so every missing or unreadable file, and every sample that is not a non-negative number, is a
`StoreError` (bad input) naming the file. Runs the manifest marks failed are left out, and the label says so.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from baseline.errors import BadInput
from baseline.phases import BENCH_NAMES

SCHEMA_VERSION = 1
SUMMARY_SCHEMA_VERSION = 1
RESULT_KEYS = ("schema_version", "phase", "label", "run", "environment", "cases")
CASE_KEYS = ("id", "unit", "samples", "summary")
_RUN_DIR = re.compile(r"run-(\d+)")


class StoreError(BadInput):
    """A recorded file is missing, malformed or locked; the message names the file and what to do."""


def read_json(path: Path | str) -> Any:
    path = Path(path)
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise StoreError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise StoreError(f"{path}: is a folder, not a file; move it away") from None
    except orjson.JSONDecodeError as exc:
        raise StoreError(f"{path}: not valid JSON ({exc})") from None


def validate_cases(cases: Any, where: str) -> None:
    """Each case has its keys, and its samples are a list of finite non-negative numbers (ns)."""
    if not isinstance(cases, list):
        raise StoreError(f"{where}: 'cases' must be a list, got {type(cases).__name__}")
    for index, case in enumerate(cases):
        if not isinstance(case, dict):
            raise StoreError(f"{where}: case {index} must be an object, got {type(case).__name__}")
        missing = [key for key in CASE_KEYS if key not in case]
        if missing:
            raise StoreError(f"{where}: case {index} ({case.get('id', '?')}) lacks {', '.join(missing)}")
        samples = case["samples"]
        if not isinstance(samples, list):
            raise StoreError(f"{where}: case {case['id']}: 'samples' must be a list")
        for position, sample in enumerate(samples):
            if (
                isinstance(sample, bool)
                or not isinstance(sample, int | float)
                or not math.isfinite(sample)
                or sample < 0
            ):
                raise StoreError(
                    f"{where}: case {case['id']}: sample {position} is {sample!r}; samples must be non-negative "
                    "numbers (ns). Re-run the phase, or remove the file"
                )


def read_result(path: Path | str) -> dict[str, Any]:
    """Load and check a result file; StoreError names the file and what is wrong."""
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, dict):
        raise StoreError(f"{path}: expected a JSON object, got {type(data).__name__}")
    missing = [key for key in RESULT_KEYS if key not in data]
    if missing:
        raise StoreError(f"{path}: missing required key(s) {', '.join(missing)}")
    if data["schema_version"] != SCHEMA_VERSION:
        raise StoreError(f"{path}: schema_version {data['schema_version']!r} is not supported (expected 1)")
    if not isinstance(data["environment"], dict):
        raise StoreError(f"{path}: 'environment' must be an object")
    validate_cases(data["cases"], str(path))
    return data


def run_number(run_dir: Path) -> int:
    match = _RUN_DIR.fullmatch(run_dir.name)
    if match is None:
        raise StoreError(f"{run_dir}: run folders must be named run-<N>")
    return int(match.group(1))


def run_dirs(label_dir: Path | str) -> list[Path]:
    """run-N folders of a label, in numeric order."""
    label_dir = Path(label_dir)
    if not label_dir.is_dir():
        return []
    found = [p for p in label_dir.iterdir() if p.is_dir() and _RUN_DIR.fullmatch(p.name)]
    return sorted(found, key=run_number)


def read_manifest(label_dir: Path | str) -> dict[str, Any]:
    """profiles/<label>/manifest.json, or an empty manifest when none was written yet."""
    label_dir = Path(label_dir)
    path = label_dir / "manifest.json"
    if not path.exists():
        return {"label": label_dir.name, "runs": {}}
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("runs"), dict):
        raise StoreError(f"{path}: expected an object with a 'runs' object")
    return data


def phase_ok(entry: Any) -> bool:
    """A manifest phase entry that finished well: {"status": "ok", ...} (or the bare "ok" of older manifests)."""
    return entry == "ok" or (isinstance(entry, dict) and entry.get("status") == "ok")


def known_labels(output_dir: Path) -> list[str]:
    """Labels recorded under the output folder (folders holding runs), for "did you mean" messages."""
    if not output_dir.is_dir():
        return []
    return sorted(p.name for p in output_dir.iterdir() if p.is_dir() and run_dirs(p))


# ---------------------------------------------------------------------------------------------- labels


@dataclass
class RunData:
    """One usable run of a label: its number and the result files read from it."""

    run: int
    path: Path
    results: dict[str, dict[str, Any]]  # phase -> result file content
    profile_dir: Path

    @property
    def environment(self) -> dict[str, Any]:
        for phase in BENCH_NAMES:
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
            for phase in BENCH_NAMES:
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
            entry["flags"] = flags_by_run(entry["flags"])
        return out

    def phases(self) -> list[str]:
        return [p for p in BENCH_NAMES if any(p in run.results for run in self.runs)]

    def provenance(self) -> dict[str, set[str]]:
        """Per digest kind ("bench", "workload"), every digest the label's results were measured with."""
        found: dict[str, set[str]] = {}
        for run in self.runs:
            for result in run.results.values():
                for kind, digest in (result.get("provenance") or {}).items():
                    found.setdefault(kind, set()).add(str(digest))
        return found

    def profile_modules(self) -> list[str]:
        """The lifecycle module names the label's profiles were analysed with (hot-path files' `modules`)."""
        found: dict[str, None] = {}
        for _, path in self.profile_files(".hotpaths.json"):
            analysis = read_json(path)
            if isinstance(analysis, dict) and isinstance(analysis.get("modules"), dict):
                found.update(dict.fromkeys(analysis["modules"]))
        return list(found)

    def profile_files(self, suffix: str) -> list[tuple[int, Path]]:
        """(run, path) of every `run-*/profiles/*<suffix>` file, sorted."""
        return [(run.run, path) for run in self.runs for path in sorted(run.profile_dir.glob(f"*{suffix}"))]


def flags_by_run(flags: list[tuple[str, int]]) -> list[str]:
    """One line per flag naming the runs it was raised in: "autovacuum_in_window (runs 1, 3)"."""
    runs: dict[str, list[int]] = {}
    for flag, run in flags:
        runs.setdefault(flag, []).append(run)
    return [
        f"{flag} (run{'s' if len(numbers) > 1 else ''} {', '.join(map(str, sorted(set(numbers))))})"
        for flag, numbers in runs.items()
    ]


def _record_command(label: str) -> str:
    sessions = {"pre-refactor": "nox -s baseline_pre", "post-refactor": "nox -s baseline_post"}
    return sessions.get(label, f"nox -s baseline -- --label {label}")


def load_label(label_dir: Path) -> LabelRuns:
    """Read every usable run of a label; StoreError naming the label or file on any bad input."""
    label_dir = Path(label_dir)
    label = label_dir.name
    if not label_dir.is_dir():
        known = known_labels(label_dir.parent)
        hint = f"; recorded labels: {', '.join(known)}" if known else ""
        raise StoreError(
            f"label {label!r} not found: {label_dir} does not exist (record it first: {_record_command(label)}){hint}"
        )
    manifest_runs: dict[str, dict[str, Any]] = dict(read_manifest(label_dir).get("runs") or {})
    folders = run_dirs(label_dir)
    if not folders:
        raise StoreError(f"label {label!r} has no runs: no run-<N> folder in {label_dir}")

    present = {phase for run_dir in folders for phase in BENCH_NAMES if (run_dir / f"{phase}.json").exists()}
    runs: list[RunData] = []
    excluded: list[dict[str, Any]] = []
    for run_dir in folders:
        number = run_number(run_dir)
        entry = manifest_runs.get(str(number)) or {}
        status = entry.get("status")
        if status in ("failed", "interrupted"):
            excluded.append({"run": number, "status": status, "error": entry.get("error")})
            continue
        phases_status = entry.get("phases") or {}
        expected = [p for p in BENCH_NAMES if phase_ok(phases_status.get(p))] if phases_status else sorted(present)
        results: dict[str, dict[str, Any]] = {}
        for phase in BENCH_NAMES:
            path = run_dir / f"{phase}.json"
            if not path.exists():
                if phase in expected:
                    raise StoreError(f"{path} is missing (label {label!r}, run {number}); re-run that phase")
                continue
            results[phase] = read_result(path)
        if not results:
            excluded.append({"run": number, "status": status or "empty", "error": "no result files"})
            continue
        runs.append(RunData(number, run_dir, results, run_dir / "profiles"))
    if not runs:
        raise StoreError(f"label {label!r} has no usable runs in {label_dir} (excluded: {excluded})")
    return LabelRuns(label, label_dir, runs, excluded)


def read_summary(label_dir: Path) -> dict[str, Any]:
    """summary.json of a label, refusing files this version cannot read."""
    path = Path(label_dir) / "summary.json"
    if not path.exists():
        raise StoreError(f"{path} not found: run `nox -s summarize -- --label {Path(label_dir).name}`")
    summary = read_json(path)
    if not isinstance(summary, dict) or summary.get("schema_version") != SUMMARY_SCHEMA_VERSION:
        raise StoreError(f"{path}: schema_version must be {SUMMARY_SCHEMA_VERSION}; re-run summarize")
    return summary
