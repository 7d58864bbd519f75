"""Markdown reports (summary of a label, comparison of two labels): the tables a terminal or PR shows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from baseline.reports.envdiff import flatten
from baseline.reports.units import fmt_ns, fmt_pct, fmt_ratio

HOST_ROWS: list[tuple[str, str, Any]] = [
    ("harness overhead, SQL (Sampler / bare psycopg p50)", "sql_harness_ratio", lambda v: f"{v:.3f}x"),
    ("harness overhead, NOTIFY (Sampler / bare loop p50)", "event_harness_ratio", lambda v: f"{v:.3f}x"),
    ("SELECT 1 p50, back to back", "select_1_p50_ns", fmt_ns),
    ("SELECT 1 p50, after 15 ms idle", "select_1_after_idle_p50_ns", fmt_ns),
    ("wake-up ratio (after idle / back to back)", "wake_up_ratio", lambda v: f"{v:.1f}x"),
    ("server CPU loop p50 (sum over 1,000 generated rows)", "cpu_loop_p50_ns", fmt_ns),
    ("highest CPU steal in a phase window", "max_cpu_steal_share", fmt_pct),
]
HOST_DRIFT_HEADING = (
    "The host's floor moved between the baselines: cases that run no code of the system under test changed speed; "
    "every latency ratio above includes that factor."
)


def _cost_cell(row: Mapping[str, Any] | None) -> str:
    if not row or not row.get("ratio"):
        return "-"
    ci = row.get("ci")
    return f"{row['ratio']:.3f}x" + (" " + fmt_ci(ci, lambda v: f"{v:.3f}") if ci else "")


def per_run_tables(summary: Mapping[str, Any]) -> list[tuple[str, str, list[str], list[list[str]]]]:
    """(heading, one-line intro, headers, rows) of the per-run tables that exist: profiler cost, harness and host
    (markdown and HTML)."""
    runs = summary["runs"]
    tables = []
    cost = summary.get("profiler_cost") or []
    if cost:
        by_key = {(row["run"], row["workflow"]): row for row in cost}
        workflows = list(dict.fromkeys(row["workflow"] for row in cost))
        rows = [[w, *(_cost_cell(by_key.get((r, w))) for r in runs)] for w in workflows]
        cpu = {row["run"]: row["cores"] for row in summary.get("profiler_cpu") or []}
        if any(v is not None for v in cpu.values()):
            rows.append(
                ["py-spy's own CPU (cores)", *(f"{cpu[r]:.3f}" if cpu.get(r) is not None else "-" for r in runs)]
            )
        intro = (
            "E2E p50 with every service under py-spy over p50 without it, alternating blocks in the same run "
            "[95% CI over the blocks]."
        )
        tables.append(("Profiler cost", intro, ["workflow", *(f"run {r}" for r in runs)], rows))
    host = summary.get("harness_and_host") or []
    if host:
        rows = [
            [label, *(fmt(row.get(key)) if row.get(key) is not None else "-" for row in host)]
            for label, key, fmt in HOST_ROWS
        ]
        intro = (
            "What every figure carries besides the code: the harness's overhead over a bare loop, the host's floor, "
            "and CPU steal (hypervisor time taken from this VM)."
        )
        tables.append(("Harness and host", intro, ["", *(f"run {row['run']}" for row in host)], rows))
    return tables


def cell(value: Any) -> str:
    """A table cell: pipes and newlines escaped so user text can never break the table."""
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt_ci(ci: Sequence[float] | None, fmt: Any = fmt_ns) -> str:
    if not ci or len(ci) != 2:
        return "-"
    return f"[{fmt(ci[0])}, {fmt(ci[1])}]"


SUMMARY_HEADERS = ("case", "n", "p50", "p50 95% CI", "p95", "p99", "CV", "stability", "flags")


def summary_rows(summary: Mapping[str, Any], *, unstable: Any) -> list[list[Any]]:
    """One row per case under SUMMARY_HEADERS (markdown and HTML alike); `unstable` is that cell's marker."""
    rows = []
    for case in summary["cases"]:
        p = case["pooled"]
        rows.append(
            [
                case["id"],
                p["n"],
                fmt_ns(p["p50"]),
                fmt_ci(p.get("p50_ci")),
                fmt_ns(p["p95"]),
                fmt_ns(p.get("p99")),
                fmt_pct(case["cv"]),
                unstable if case["unstable"] else "stable",
                ", ".join(case.get("flags") or []) or "-",
            ]
        )
    return rows


def environment_lines(env: Mapping[str, Any]) -> list[str]:
    """The fingerprint as `key: value` lines (machine, PostgreSQL, git, harness; config sizes)."""
    keep = ("machine.", "postgres.", "python.version", "git.", "harness_version", "config.dataset_", "config.samples")
    return [f"{k}: {v}" for k, v in flatten(env or {}) if k.startswith(keep) and not k.startswith("python.packages")]


def render_summary(summary: Mapping[str, Any]) -> str:
    """report.md of a label: cases, per-run medians, profiles, environment."""
    out = [f"# Baseline `{cell(summary['label'])}`", ""]
    out.append(
        f"Runs: {', '.join(str(r) for r in summary['runs'])} · generated {summary.get('generated_at', '-')} · "
        f"unstable when the cross-run CV of the median exceeds {fmt_pct(summary.get('cv_threshold'))}"
    )
    out.append("")
    for excluded in summary.get("excluded_runs") or []:
        out.append(f"> Run {excluded['run']} excluded ({excluded['status']}): {excluded.get('error') or '-'}")
    for note in summary.get("environment_notes") or []:
        out.append(f"> **Environment differs between runs:** {note}")
    if summary.get("unstable_cases"):
        unstable = summary["unstable_cases"]
        out.append(f"> **Unstable cases ({len(unstable)} of {len(summary['cases'])}):** {', '.join(unstable)}")
    out += ["", "## Cases", ""]
    out.append(table(SUMMARY_HEADERS, summary_rows(summary, unstable="UNSTABLE")))
    runs = summary["runs"]
    out += ["", "## Per-run medians (95% CI)", ""]
    per_run_rows = []
    for case in summary["cases"]:
        by_run = {r["run"]: r for r in case["runs"]}
        per_run_rows.append(
            [case["id"]]
            + [f"{fmt_ns(by_run[r]['p50'])} {fmt_ci(by_run[r].get('p50_ci'))}" if r in by_run else "-" for r in runs]
        )
    out.append(table(["case", *(f"run {r}" for r in runs)], per_run_rows))
    profiles = summary.get("profiles") or []
    if profiles:
        out += ["", "## Profiles", ""]
        prow = []
        for prof in profiles:
            hot = prof.get("hotpaths") or {}
            top = (hot.get("top") or [{}])[0]
            prow.append(
                [
                    prof["run"],
                    prof["name"],
                    hot.get("total_samples", "-"),
                    fmt_pct(hot.get("message_passing_share")),
                    f"{top.get('frame', '-')} ({fmt_pct(top.get('share'))})" if top else "-",
                    f"[svg]({prof['svg']})" if prof.get("svg") else "-",
                ]
            )
        out.append(table(["run", "profile", "samples", "message passing", "top frame (self)", "flamegraph"], prow))
    for heading, intro, headers, rows in per_run_tables(summary):
        out += ["", f"## {heading}", "", intro, "", table(headers, rows)]
    out += ["", f"## Environment (run {runs[0]})", ""]
    out += [f"- {cell(line)}" for line in environment_lines(summary.get("environment") or {})] or ["- (none recorded)"]
    return "\n".join(out) + "\n"


def fmt_ratio_ci(entry: Mapping[str, Any]) -> str:
    """`+12.3% [+8.1%, +16.0%]` for a ratio entry with a CI."""
    ci = entry.get("ci")
    return f"{fmt_ratio(entry['ratio'])} {fmt_ci(ci, fmt_ratio)}" if ci else fmt_ratio(entry["ratio"])


def _mde_cell(case: Mapping[str, Any]) -> str:
    mde = case.get("mde")
    return "-" if mde is None else f"{mde * 100:.0f}%"


CASE_HEADERS = (
    "case",
    "verdict",
    "base p50",
    "head p50",
    "p50 change [95% CI]",
    "p95 change [95% CI]",
    "detectable",
    "why inconclusive",
)


def case_rows(verdict: Mapping[str, Any], *, mark: Any) -> list[list[Any]]:
    """One row per compared case under CASE_HEADERS; `mark(verdict)` renders the verdict cell (markdown and HTML)."""
    return [
        [
            c["id"],
            mark(c["verdict"]),
            fmt_ns(c["p50"].get("base")),
            fmt_ns(c["p50"].get("head")),
            fmt_ratio_ci(c["p50"]),
            fmt_ratio_ci(c["p95"]),
            _mde_cell(c),
            c.get("advice") or "",
        ]
        for c in verdict["cases"]
    ]


FUNCTION_HEADERS = ("SQL function", "verdict", "change [CI]", "cases", "detectable")


def function_rows(verdict: Mapping[str, Any], *, mark: Any) -> list[list[Any]]:
    return [
        [
            f["function"],
            mark(f["verdict"]),
            fmt_ratio_ci(f) + f" ({f['confidence']:.1%})",
            len(f["cases"]),
            "-" if f.get("mde") is None else f"{f['mde'] * 100:.0f}%",
        ]
        for f in verdict.get("functions") or []
    ]


def gate_rows(verdict: Mapping[str, Any], *, mark: Any) -> list[list[Any]]:
    return [
        [
            g["name"],
            mark("pass" if g["passed"] else "FAIL") + ("" if g.get("evaluated", True) else " (nothing to judge)"),
            "regression signal" if g["hard"] else "success criterion",
            g["detail"],
        ]
        for g in verdict["gates"]
    ]


def warning_groups(verdict: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """(heading, lines) of what to be wary of, after the verdict: the host's floor, the environment, the code."""
    groups = []
    if verdict.get("mismatches"):
        groups.append(
            ("Compared despite mismatches (--allow-mismatch): only what both sides have", verdict["mismatches"])
        )
    if verdict["host_drift"]:
        lines = list(verdict["host_drift"])
        if verdict.get("remeasure_advice"):
            lines.append(verdict["remeasure_advice"])
        groups.append((HOST_DRIFT_HEADING, lines))
    if verdict["environment_warnings"]:
        heading = "Environment mismatch: latencies may not be comparable" + (
            " (--strict: exit 2)" if verdict.get("strict") else ""
        )
        groups.append((heading, list(verdict["environment_warnings"])))
    if verdict.get("provenance_warnings"):
        groups.append(("Measured by different code", list(verdict["provenance_warnings"])))
    return groups


def verdict_line(verdict: Mapping[str, Any]) -> str:
    outcome = "PASSED" if verdict["passed"] else "FAILED"
    runs = verdict["runs"]
    unit = verdict.get("replicate", "run")
    return (
        f"Result: {outcome} (exit code {verdict['exit_code']}) · {verdict.get('mode', '')} · {unit}s base "
        f"{len(runs['base'])}, head {len(runs['head'])}"
    )


def render_compare(verdict: Mapping[str, Any]) -> str:
    """report.md of a comparison: the verdict first (outcome, gates, SQL functions), then the warnings, then every
    case and profile."""
    base, head = verdict["base"], verdict["head"]
    out = [f"# Compare `{cell(base)}` → `{cell(head)}`", "", f"**{verdict_line(verdict)}**"]
    if verdict.get("confirmation"):
        out += ["", f"_{cell(verdict['confirmation']['summary'])}_"]
    out += ["", "## Gates", "", table(["gate", "result", "kind", "detail"], gate_rows(verdict, mark=_bold_fail))]
    if verdict.get("functions"):
        out += ["", "## SQL functions (cases combined; false alarms held at 5% over all functions)", ""]
        out.append(table(FUNCTION_HEADERS, function_rows(verdict, mark=_upper_regressed)))
    for heading, lines in warning_groups(verdict):
        out += ["", "> [!WARNING]", f"> **{heading}**"] + [f"> - {cell(w)}" for w in lines]
    out += ["", "## Cases (ratio head/base; + is slower; detectable = smallest slowdown found with 80% power)", ""]
    out.append(table(CASE_HEADERS, case_rows(verdict, mark=_upper_regressed)))
    for key, side in (("only_in_base", base), ("only_in_head", head)):
        if verdict.get(key):
            out.append(f"\nOnly in `{cell(side)}` (not compared): {', '.join(verdict[key])}")
    for prof in verdict.get("profiles") or []:
        out += ["", f"## Profile `{cell(prof['name'])}`", ""]
        mp = prof["message_passing"]
        out.append(
            f"Time ratio (samples per run) {prof['total_ratio']:.3f} · message passing "
            f"{fmt_pct(mp['base_share'])} → {fmt_pct(mp['head_share'])} · "
            f"[differential flamegraph]({prof['diff_svg']})"
        )
        if prof["diff"].get("note"):
            out += ["", f"_{cell(prof['diff']['note'])}_"]
        out.append("")
        out.append(profile_table(prof["diff"]))
        for what, listed in frame_lists(prof["diff"]):
            out.append(f"\n{what}: " + ", ".join(f"`{cell(frame)}` ({share})" for frame, share in listed))
    if verdict.get("notes"):
        out += ["", "## Notes", ""] + [f"- {cell(n)}" for n in verdict["notes"]]
    return "\n".join(out) + "\n"


def _bold_fail(text: str) -> str:
    return "**FAIL**" if text == "FAIL" else text


def _upper_regressed(text: str) -> str:
    return text.upper() if text == "regressed" else text


PROFILE_HEADERS = ["frame", "inclusive base", "head", "change", "significant", "self base", "self head"]


def profile_rows(diff: Mapping[str, Any], limit: int = 15) -> list[list[str]]:
    """The frames whose inclusive share moved most, with the two-proportion test's verdict, and their self shares
    (what the new-hot-path gate judges) (markdown and HTML)."""
    return [
        [
            r["frame"],
            fmt_pct(r["base_share"]),
            fmt_pct(r["head_share"]),
            f"{r['delta'] * 100:+.2f} pp",
            "yes" if r["significant"] else "no",
            fmt_pct(r.get("base_self_share", 0.0)),
            fmt_pct(r.get("head_self_share", 0.0)),
        ]
        for r in diff["frames"][:limit]
    ]


def profile_table(diff: Mapping[str, Any], limit: int = 15) -> str:
    return table(PROFILE_HEADERS, profile_rows(diff, limit))


def frame_lists(diff: Mapping[str, Any], limit: int = 15) -> list[tuple[str, list[tuple[str, str]]]]:
    """(heading, [(frame, share)]) for new hot paths, new frames and removed frames, the empty ones left out."""
    kinds = (
        ("new_hot_paths", "New hot paths (self share)", "head_self_share"),
        ("new_frames", "New frames", "head_share"),
        ("removed_frames", "Removed frames", "base_share"),
    )
    return [
        (what, [(r["frame"], fmt_pct(r[share])) for r in diff[key][:limit]])
        for key, what, share in kinds
        if diff.get(key)
    ]
