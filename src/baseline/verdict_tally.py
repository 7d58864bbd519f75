"""What the verdict check counts: how often an A/A raises a false alarm, how often a known slowdown is found, and
the minimum detectable effect per phase. Pure: it reads verdicts, the runner produces them."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from baseline.compare_logic import function_of


def run_record(verdict: Mapping[str, Any], *, function: str | None = None, seconds: float = 0.0) -> dict[str, Any]:
    """One A/B run, reduced to what the check counts."""
    cases = verdict["cases"]
    of_function = [c for c in cases if function and c["id"].startswith("sql/") and function_of(c["id"]) == function]
    return {
        "passed": bool(verdict["passed"]),
        "failed_gates": [g["name"] for g in verdict["gates"] if not g["passed"]],
        "first_pass_failed": list((verdict.get("confirmation") or {}).get("failed_first", [])),
        "functions": {f["function"]: f["verdict"] for f in verdict.get("functions") or []},
        "verdicts": dict(Counter(c["verdict"] for c in cases)),
        "unchanged_share": sum(c["verdict"] == "unchanged" for c in cases) / len(cases) if cases else None,
        "function_cases_regressed": bool(of_function) and all(c["verdict"] == "regressed" for c in of_function),
        "mde": mde_by_phase(cases),
        "seconds": round(seconds, 1),
    }


def mde_by_phase(cases: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """The median minimum detectable effect of each phase's cases (calibration cases left out)."""
    by_phase: dict[str, list[float]] = {}
    for case in cases:
        if case.get("calibration") is None and case.get("mde") is not None:
            by_phase.setdefault(case["id"].split("/")[0], []).append(float(case["mde"]))
    return {phase: statistics.median(values) for phase, values in by_phase.items()}


def tally(records: Mapping[str, Sequence[Mapping[str, Any]]], *, function: str | None) -> dict[str, Any]:
    """Counts over the runs of each kind: `aa` (same code both sides), `sql` and `e2e` (a known slowdown in head)."""
    out: dict[str, Any] = {}
    aa = records.get("aa", [])
    if aa:
        gate_failures = Counter(g for r in aa for g in r["failed_gates"])
        flagged = Counter(f for r in aa for f, v in r["functions"].items() if v in ("regressed", "improved"))
        out["aa"] = {
            "runs": len(aa),
            "runs_with_a_failed_gate": sum(not r["passed"] for r in aa),
            "gate_failures": dict(gate_failures),
            "runs_confirmed_after_a_first_failure": sum(bool(r["first_pass_failed"]) for r in aa),
            "unchanged_share_median": statistics.median(
                r["unchanged_share"] for r in aa if r["unchanged_share"] is not None
            ),
            "functions_flagged": dict(flagged),
            "mde": _median_mde(aa),
        }
    sql = records.get("sql", [])
    if sql:
        others = Counter(
            f for r in sql for f, v in r["functions"].items() if f != function and v in ("regressed", "improved")
        )
        out["sql"] = {
            "runs": len(sql),
            "gate_failed": sum("sql_unchanged" in r["failed_gates"] for r in sql),
            "every_case_regressed": sum(r["function_cases_regressed"] for r in sql),
            "function_regressed": sum(r["functions"].get(function or "") == "regressed" for r in sql),
            "other_functions_flagged": dict(others),
        }
    e2e = records.get("e2e", [])
    if e2e:
        out["e2e"] = {
            "runs": len(e2e),
            "gate_failed": sum("e2e_within_max_ratio" in r["failed_gates"] for r in e2e),
        }
    return out


def _median_mde(records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    phases = {p for r in records for p in r["mde"]}
    return {p: statistics.median(r["mde"][p] for r in records if p in r["mde"]) for p in sorted(phases)}


def render_markdown(result: Mapping[str, Any]) -> str:
    """The check's report: false alarms, power, and what each phase can detect."""
    counts = result["tally"]
    lines = [
        "# Verdict check",
        "",
        f"{result['repeats']} quick A/B runs of each kind on this machine ({result['started_at']}, "
        f"{result['minutes']:.0f} min in all). Head {result['revision']}.",
        "",
        "| runs | what | result |",
        "|---|---|---|",
    ]
    aa = counts.get("aa")
    if aa:
        lines.append(
            f"| A/A ({aa['runs']}) | runs with a failed gate (false alarms) | {aa['runs_with_a_failed_gate']} of "
            f"{aa['runs']}; gates: {aa['gate_failures'] or 'none'}; a first-pass failure confirmed away in "
            f"{aa['runs_confirmed_after_a_first_failure']} |"
        )
        lines.append(f"| A/A | median share of cases 'unchanged' | {aa['unchanged_share_median']:.0%} |")
        lines.append(f"| A/A | SQL functions flagged | {aa['functions_flagged'] or 'none'} |")
    sql = counts.get("sql")
    if sql:
        lines.append(
            f"| +{result['sql_amount']:.0%} {result['function']} ({sql['runs']}) | sql_unchanged failed / every case "
            f"of the function regressed / other functions flagged | {sql['gate_failed']} / "
            f"{sql['every_case_regressed']} of {sql['runs']} / {sql['other_functions_flagged'] or 'none'} |"
        )
    e2e = counts.get("e2e")
    if e2e:
        lines.append(
            f"| +{result['e2e_amount']:.0%} E2E chain ({e2e['runs']}) | e2e_within_max_ratio failed | "
            f"{e2e['gate_failed']} of {e2e['runs']} |"
        )
    if aa and aa["mde"]:
        lines += ["", "Minimum detectable effect per phase (median over its cases; A/A runs):", ""]
        lines += [f"- {phase}: {value:.1%}" for phase, value in aa["mde"].items()]
    lines += ["", "Injected slowdowns:", ""] + [f"- {d}" for d in result["injections"]]
    return "\n".join(lines) + "\n"
