"""Compare two labels: load both, run the pure compare logic, write `profiles/compare/<base>__<head>/`.

Outputs: verdict.json (everything the reports show), report.md, report.html and one differential flamegraph
`diff-<profile>.svg` per profile recorded in both labels. Exit codes: 0 every gate holds, 1 a gate failed,
2 bad input (raised as BadInput, or returned under `strict` when the environments or the bench code differ).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from baseline import __version__, compare_logic, store
from baseline.compare_logic import Criteria
from baseline.config import check_label
from baseline.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, BadInput
from baseline.profiling import flamegraph, folded
from baseline.reports import envdiff, html, markdown
from baseline.results import LabelRuns, StoreError, load_label

VERDICT_SCHEMA_VERSION = 1


def _load(output_dir: Path, label: str, role: str) -> LabelRuns:
    check_label(f"--{role}", label)
    try:
        return load_label(Path(output_dir) / label)
    except StoreError as exc:
        raise StoreError(f"{role} ({label}): {exc}") from None


def criteria_from(criteria: Mapping[str, Any] | Criteria | None) -> Criteria:
    """The compare gates' thresholds from `[tool.baseline.criteria]`; a bad key is bad input naming it."""
    return _criteria(criteria)


def _criteria(criteria: Mapping[str, Any] | Criteria | None) -> Criteria:
    if isinstance(criteria, Criteria):
        return criteria
    try:
        return Criteria.from_mapping(criteria or {})
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def provenance_warnings(base: LabelRuns, head: LabelRuns) -> list[str]:
    """Where the two labels were measured by different bench code or target workload (digests in every result)."""
    warnings = []
    base_digests, head_digests = base.provenance(), head.provenance()
    for kind in sorted(base_digests.keys() | head_digests.keys()):
        b, h = base_digests.get(kind, set()), head_digests.get(kind, set())
        if b != h:
            shown = ", ".join(sorted(d[:12] for d in b)) or "none recorded"
            shown_head = ", ".join(sorted(d[:12] for d in h)) or "none recorded"
            warnings.append(
                f"{kind} code differs: base measured by {shown}, head by {shown_head}; the difference between "
                "them is in the measurement as well as in the code measured"
            )
    return warnings


def load_profiles(data: LabelRuns) -> tuple[dict[str, dict[int, dict[str, int]]], list[str]]:
    """Folded stacks per profile and run (line numbers stripped), the instances of one role kind summed into the
    kind's profile (folded.profile_kind); notes on empty ones."""
    profiles: dict[str, dict[int, dict[str, int]]] = {}
    notes: list[str] = []
    for run, path in data.profile_files(".folded"):
        try:
            stacks = folded.strip_line_numbers(folded.parse(path.read_text()))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise BadInput(f"{path}: unreadable folded profile ({exc})") from None
        name = path.name.removesuffix(".folded")
        if folded.total(stacks) == 0:
            notes.append(f"{data.label} run {run}: profile {name} has no samples (left out)")
            continue
        kind = profiles.setdefault(folded.profile_kind(name), {})
        kind[run] = folded.merge(kind[run], stacks) if run in kind else stacks
    return profiles, notes


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def _paired_runs(
    base: list[tuple[int, list[float]]], head: list[tuple[int, list[float]]]
) -> tuple[list[list[float]], list[list[float]]]:
    """The replicates both sides have, in pairs (an A/B's block i of each side was measured back to back)."""
    head_by_run = dict(head)
    pairs = [(samples, head_by_run[run]) for run, samples in base if run in head_by_run]
    return [b for b, _ in pairs], [h for _, h in pairs]


def build_verdict(
    base_data: LabelRuns,
    head_data: LabelRuns,
    *,
    criteria: Criteria,
    paired: bool,
    seed: int = 0,
    names: tuple[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Case and profile comparisons, gates and warnings of head against base (pure but for reading the labels'
    profile files); returns the verdict (exit code and output still to be set) and the diff flamegraphs."""
    base, head = names or (base_data.label, head_data.label)
    base_cases, head_cases = base_data.cases(), head_data.cases()
    common = [cid for cid in base_cases if cid in head_cases and base_cases[cid]["runs"] and head_cases[cid]["runs"]]
    try:
        cases = []
        for cid in common:
            if paired:
                base_runs, head_runs = _paired_runs(base_cases[cid]["runs"], head_cases[cid]["runs"])
            else:
                base_runs = [samples for _, samples in base_cases[cid]["runs"]]
                head_runs = [samples for _, samples in head_cases[cid]["runs"]]
            if base_runs and head_runs:
                cases.append(
                    compare_logic.compare_case(cid, base_runs, head_runs, criteria=criteria, seed=seed, paired=paired)
                )
    except ValueError as exc:
        raise BadInput(f"bad samples comparing {base!r} with {head!r}: {exc}") from None

    base_profiles, base_notes = load_profiles(base_data)
    head_profiles, head_notes = load_profiles(head_data)
    notes = base_notes + head_notes
    profiles: list[dict[str, Any]] = []
    svgs: dict[str, str] = {}
    modules = list(dict.fromkeys([*base_data.profile_modules(), *head_data.profile_modules()]))
    for name in sorted(base_profiles.keys() & head_profiles.keys()):
        runs = sorted(base_profiles[name].keys() & head_profiles[name].keys()) if paired else None
        base_runs_p = [base_profiles[name][r] for r in runs] if runs else list(base_profiles[name].values())
        head_runs_p = [head_profiles[name][r] for r in runs] if runs else list(head_profiles[name].values())
        result = compare_logic.compare_profile(
            name, base_runs_p, head_runs_p, criteria=criteria, modules=modules, paired=paired
        )
        svg_name = f"diff-{_safe_name(name)}.svg"
        svgs[svg_name] = flamegraph.render_diff_svg(base_runs_p, head_runs_p, title=f"{name}: {head} vs {base}")
        result["diff_svg"] = svg_name
        profiles.append(result)
    for name in sorted(base_profiles.keys() ^ head_profiles.keys()):
        side = head if name in head_profiles else base
        notes.append(f"profile {name} exists only in {side!r}; not compared")

    gates = compare_logic.evaluate_gates(cases, profiles, criteria)
    verdict: dict[str, Any] = {
        "schema_version": VERDICT_SCHEMA_VERSION,
        "base": base,
        "head": head,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "harness_version": __version__,
        "mode": "a/b (paired blocks)" if paired else "stored baselines (runs)",
        "replicate": "block" if paired else "run",
        "passed": gates["passed"],
        "environment_warnings": envdiff.differences(base_data.runs[0].environment, head_data.runs[0].environment),
        "provenance_warnings": provenance_warnings(base_data, head_data),
        "host_drift": compare_logic.host_drift(cases),
        "criteria": dataclasses.asdict(criteria),
        "gates": gates["gates"],
        "functions": gates["functions"],
        "cases": cases,
        "only_in_base": [cid for cid in base_cases if cid not in head_cases],
        "only_in_head": [cid for cid in head_cases if cid not in base_cases],
        "phases": {"base": base_data.phases(), "head": head_data.phases()},
        "profiles": profiles,
        "notes": notes,
        "runs": {
            "base": [r.run for r in base_data.runs],
            "head": [r.run for r in head_data.runs],
            "base_excluded": base_data.excluded,
            "head_excluded": head_data.excluded,
        },
        "environment": {"base": base_data.runs[0].environment, "head": head_data.runs[0].environment},
    }
    return verdict, svgs


def mismatches(verdict: Mapping[str, Any]) -> list[str]:
    """What one side has and the other lacks (cases, phases, runs), and the config each was measured with: a
    comparison over either is not a comparison of the code."""
    found = []
    for key, side in (("only_in_base", "base"), ("only_in_head", "head")):
        if verdict[key]:
            shown = ", ".join(verdict[key][:5]) + (
                f" and {len(verdict[key]) - 5} more" if len(verdict[key]) > 5 else ""
            )
            found.append(f"{len(verdict[key])} case(s) only in {side}: {shown}")
    base_phases, head_phases = set(verdict["phases"]["base"]), set(verdict["phases"]["head"])
    if base_phases != head_phases:
        found.append(f"phases differ: base {sorted(base_phases)}, head {sorted(head_phases)}")
    runs = verdict["runs"]
    if sorted(runs["base"]) != sorted(runs["head"]):
        found.append(f"runs differ: base {runs['base']}, head {runs['head']}")
    found += [f"config differs: {w}" for w in verdict["environment_warnings"] if w.startswith("config.")]
    return found


def remeasure_advice(verdict: Mapping[str, Any]) -> str | None:
    """When the host's floor moved between two stored baselines: which verdicts that touches, and what to do."""
    if not verdict["host_drift"]:
        return None
    moved = [c["id"] for c in verdict["cases"] if c["calibration"] is None and c["verdict"] != "unchanged"]
    failed = [g["name"] for g in verdict["gates"] if not g["passed"]]
    touched = f"{len(moved)} case verdict(s) that are not 'unchanged'" + (
        f" and the failed gate(s) {', '.join(failed)}" if failed else ""
    )
    return (
        f"the host changed speed between the two baselines, so {touched} may be the host's and not the code's: "
        "re-measure both in the same minutes with `nox -s compare -- --remeasure` (it rebuilds the base's recorded "
        "commit and runs an A/B against the working tree)"
    )


def recorded_commit(data: LabelRuns) -> tuple[str, bool]:
    """The commit a label was measured at and whether its tree was dirty (from its results' fingerprints)."""
    commits = {
        (str(env.get("commit")), bool(env.get("dirty"))) for run in data.runs if (env := run.environment.get("git"))
    }
    if len(commits) != 1:
        found = ", ".join(sorted(c[:12] for c, _ in commits)) or "none recorded"
        raise BadInput(f"label {data.label!r} records no single commit to rebuild (found: {found})")
    ((commit, dirty),) = commits
    if not commit or commit == "None":
        raise BadInput(f"label {data.label!r} records no commit (measured outside a git checkout): cannot rebuild it")
    return commit, dirty


def exit_code(verdict: Mapping[str, Any], *, strict: bool) -> int:
    """0 every gate holds, 1 a gate failed, 2 under --strict when the environments or the bench code differ."""
    if strict and (verdict["environment_warnings"] or verdict["provenance_warnings"]):
        return EXIT_BAD_INPUT
    return EXIT_OK if verdict["passed"] else EXIT_FAILED


def compare_labels(
    output_dir: Path,
    base: str,
    head: str,
    *,
    criteria: Mapping[str, Any] | Criteria | None,
    strict: bool,
    seed: int = 0,
    allow_mismatch: bool = False,
) -> tuple[dict[str, Any], int]:
    """Compare label `head` against label `base` under `output_dir`; write the compare folder.

    Returns (verdict, exit code 0/1/2). Raises BadInput for a missing label, a label without runs, a corrupt or
    incompatible file, a bad criteria key, or (unless `allow_mismatch`) a case, phase or run one side lacks or a
    config that differs; nothing is written then.
    """
    crit = _criteria(criteria)
    base_data, head_data = _load(output_dir, base, "base"), _load(output_dir, head, "head")
    verdict, svgs = build_verdict(base_data, head_data, criteria=crit, paired=False, seed=seed)
    found = mismatches(verdict)
    if found and not allow_mismatch:
        raise BadInput(
            f"{base!r} and {head!r} were not measured alike: " + "; ".join(found) + ". Re-run what is missing "
            "with the same options (nothing was written), or pass --allow-mismatch to compare what both have"
        )
    verdict["mismatches"] = found
    verdict["remeasure_advice"] = remeasure_advice(verdict)
    out_dir = Path(output_dir) / "compare" / f"{base}__{head}"
    code = exit_code(verdict, strict=strict)
    verdict.update({"exit_code": code, "strict": strict, "output": str(out_dir)})
    write_compare(out_dir, verdict, svgs)
    return verdict, code


def write_compare(out_dir: Path, verdict: dict[str, Any], svgs: Mapping[str, str]) -> list[Path]:
    """verdict.json, report.md, report.html and the diff SVGs, each written atomically."""
    paths = []
    for name, svg in svgs.items():
        store.write_text_atomic(out_dir / name, svg)
        paths.append(out_dir / name)
    store.write_json_atomic(out_dir / "verdict.json", verdict)
    store.write_text_atomic(out_dir / "report.md", markdown.render_compare(verdict))
    store.write_text_atomic(out_dir / "report.html", html.render_compare(verdict))
    return [out_dir / "verdict.json", out_dir / "report.md", out_dir / "report.html", *paths]


def _fmt_ci(entry: Mapping[str, Any]) -> str:
    ci = entry.get("ci")
    return f"x{entry['ratio']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"x{entry['ratio']:.3f} [no CI]"


def console_summary(verdict: Mapping[str, Any]) -> str:
    """The verdict first (outcome, failed gates, SQL functions, changed cases), then what to be wary of."""
    outcome = "gates PASSED" if verdict["passed"] else "gates FAILED"
    if verdict["exit_code"] == EXIT_BAD_INPUT:
        outcome += ", but the environments or the bench code differ under --strict"
    lines = [f"compare {verdict['base']} -> {verdict['head']}: {outcome} (exit {verdict['exit_code']})"]
    confirmation = verdict.get("confirmation")
    if confirmation:
        lines.append(f"  {confirmation['summary']}")
    for gate in verdict["gates"]:
        if not gate["passed"]:
            lines.append(f"  gate {gate['name']} failed{' (hard)' if gate['hard'] else ''}: {gate['detail']}")
    for function in verdict.get("functions", []):
        if function["verdict"] != "unchanged":
            lines.append(f"  SQL function {function['function']}: {function['verdict']} {_fmt_ci(function)}")
    counts: dict[str, int] = {}
    for case in verdict["cases"]:
        counts[case["verdict"]] = counts.get(case["verdict"], 0) + 1
        if case["verdict"] in ("regressed", "improved"):
            lines.append(f"  {case['id']}: {case['verdict']} p50 {_fmt_ci(case['p50'])}")
    lines.append("  cases: " + (", ".join(f"{n} {v}" for v, n in sorted(counts.items())) or "none in common"))
    for warning in verdict["host_drift"]:
        lines.append(f"  WARNING host floor moved (no code of the system under test in this case): {warning}")
    if verdict.get("remeasure_advice"):
        lines.append(f"  {verdict['remeasure_advice']}")
    for warning in verdict.get("mismatches", []):
        lines.append(f"  WARNING compared despite a mismatch (--allow-mismatch): {warning}")
    for warning in verdict["environment_warnings"]:
        lines.append(f"  WARNING environment differs: {warning}")
    for warning in verdict.get("provenance_warnings", []):
        lines.append(f"  WARNING {warning}")
    lines.append(f"  report: {Path(verdict['output']) / 'report.html'}")
    return "\n".join(lines)
