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


def load_profiles(data: LabelRuns) -> tuple[dict[str, list[dict[str, int]]], list[str]]:
    """Folded stacks per profile name, one mapping per run (line numbers stripped); notes on empty ones."""
    profiles: dict[str, list[dict[str, int]]] = {}
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
        profiles.setdefault(name, []).append(stacks)
    return profiles, notes


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def compare_labels(
    output_dir: Path,
    base: str,
    head: str,
    *,
    criteria: Mapping[str, Any] | Criteria | None,
    strict: bool,
    seed: int = 0,
) -> tuple[dict[str, Any], int]:
    """Compare label `head` against label `base` under `output_dir`; write the compare folder.

    Returns (verdict, exit code 0/1/2). Raises BadInput for a missing label, a label without runs,
    a corrupt or incompatible file, or a bad criteria key; nothing is written then.
    """
    crit = _criteria(criteria)
    base_data, head_data = _load(output_dir, base, "base"), _load(output_dir, head, "head")
    base_cases, head_cases = base_data.cases(), head_data.cases()
    common = [cid for cid in base_cases if cid in head_cases and base_cases[cid]["runs"] and head_cases[cid]["runs"]]
    try:
        cases = [
            compare_logic.compare_case(
                cid,
                [s for _, s in base_cases[cid]["runs"]],
                [s for _, s in head_cases[cid]["runs"]],
                criteria=crit,
                seed=seed,
            )
            for cid in common
        ]
    except ValueError as exc:
        raise BadInput(f"bad samples comparing {base!r} with {head!r}: {exc}") from None

    base_profiles, base_notes = load_profiles(base_data)
    head_profiles, head_notes = load_profiles(head_data)
    notes = base_notes + head_notes
    out_dir = Path(output_dir) / "compare" / f"{base}__{head}"
    profiles: list[dict[str, Any]] = []
    svgs: dict[str, str] = {}
    modules = list(dict.fromkeys([*base_data.profile_modules(), *head_data.profile_modules()]))
    for name in sorted(base_profiles.keys() & head_profiles.keys()):
        result = compare_logic.compare_profile(
            name, base_profiles[name], head_profiles[name], criteria=crit, modules=modules
        )
        svg_name = f"diff-{_safe_name(name)}.svg"
        svgs[svg_name] = flamegraph.render_diff_svg(
            base_profiles[name], head_profiles[name], title=f"{name}: {head} vs {base}"
        )
        result["diff_svg"] = svg_name
        profiles.append(result)
    for name in sorted(base_profiles.keys() ^ head_profiles.keys()):
        side = head if name in head_profiles else base
        notes.append(f"profile {name} exists only in {side!r}; not compared")

    gates = compare_logic.evaluate_gates(cases, profiles, crit)
    env_warnings = envdiff.differences(base_data.runs[0].environment, head_data.runs[0].environment)
    measured_by = provenance_warnings(base_data, head_data)
    code = EXIT_OK if gates["passed"] else EXIT_FAILED
    if strict and (env_warnings or measured_by):
        code = EXIT_BAD_INPUT
    verdict: dict[str, Any] = {
        "schema_version": VERDICT_SCHEMA_VERSION,
        "base": base,
        "head": head,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "harness_version": __version__,
        "passed": gates["passed"],
        "exit_code": code,
        "strict": strict,
        "environment_warnings": env_warnings,
        "provenance_warnings": measured_by,
        "host_drift": compare_logic.host_drift(cases),
        "criteria": dataclasses.asdict(crit),
        "output": str(out_dir),
        "gates": gates["gates"],
        "cases": cases,
        "only_in_base": [cid for cid in base_cases if cid not in head_cases],
        "only_in_head": [cid for cid in head_cases if cid not in base_cases],
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


def console_summary(verdict: Mapping[str, Any]) -> str:
    """A few lines for the terminal: outcome, environment warnings, failed gates, non-unchanged cases."""
    outcome = "gates PASSED" if verdict["passed"] else "gates FAILED"
    if verdict["exit_code"] == EXIT_BAD_INPUT:
        outcome += ", but the environments differ under --strict"
    lines = [f"compare {verdict['base']} -> {verdict['head']}: {outcome} (exit {verdict['exit_code']})"]
    for warning in verdict["environment_warnings"]:
        lines.append(f"  WARNING environment differs: {warning}")
    for warning in verdict.get("provenance_warnings", []):
        lines.append(f"  WARNING {warning}")
    for drift in verdict["host_drift"]:
        lines.append(f"  WARNING host floor moved (no engine code in this case): {drift}")
    for gate in verdict["gates"]:
        if not gate["passed"]:
            lines.append(f"  gate {gate['name']} failed{' (hard)' if gate['hard'] else ''}: {gate['detail']}")
    counts: dict[str, int] = {}
    for case in verdict["cases"]:
        counts[case["verdict"]] = counts.get(case["verdict"], 0) + 1
        if case["verdict"] in ("regressed", "improved"):
            p50 = case["p50"]
            lines.append(
                f"  {case['id']}: {case['verdict']} p50 x{p50['ratio']:.3f} [{p50['ci'][0]:.3f}, {p50['ci'][1]:.3f}]"
            )
    lines.append("  cases: " + (", ".join(f"{n} {v}" for v, n in sorted(counts.items())) or "none in common"))
    lines.append(f"  report: {Path(verdict['output']) / 'report.html'}")
    return "\n".join(lines)
