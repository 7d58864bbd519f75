"""Self-contained HTML reports: inline CSS and SVG only (no scripts, fonts or network), every text escaped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from baseline.reports import svgplots
from baseline.reports.markdown import (
    CASE_HEADERS,
    FUNCTION_HEADERS,
    PROFILE_HEADERS,
    SUMMARY_HEADERS,
    case_rows,
    environment_lines,
    frame_lists,
    function_rows,
    gate_rows,
    per_run_tables,
    profile_rows,
    summary_rows,
    verdict_line,
    warning_groups,
)
from baseline.reports.units import fmt_pct

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1280px;
 color:#222;padding:0 16px;line-height:1.4}
h1{font-size:1.6em;margin-bottom:4px}h2{margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top;white-space:nowrap}
td:last-child{white-space:normal;min-width:16em}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left;font-family:ui-monospace,monospace}
.warn{background:#fff3cd;border:2px solid #e0a800;padding:10px 14px;margin:12px 0;border-radius:4px}
.bad{color:#b00020;font-weight:bold}.good{color:#1b7f3b;font-weight:bold}.muted{color:#666}
.cards{display:flex;flex-wrap:wrap;gap:16px}.card{border:1px solid #ddd;border-radius:4px;padding:8px}
.card h3{font-size:13px;font-family:ui-monospace,monospace;margin:0 0 4px 0}
ul.env{columns:2;font-size:13px;font-family:ui-monospace,monospace}
.verdict{font-size:1.3em;padding:8px 12px;display:inline-block;border-radius:4px;margin:8px 0}
.verdict.pass{background:#e6f4ea;color:#1b7f3b}.verdict.fail{background:#fde7e9;color:#b00020}
"""


def page(title: str, body: Iterable[str]) -> str:
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>'
        f"<body>{''.join(body)}</body></html>\n"
    )


def html_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, table_id: str | None = None) -> str:
    """A table whose cells are escaped text, except cells passed as `Raw` (already-safe markup)."""
    id_attr = f' id="{escape(table_id)}"' if table_id else ""
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table{id_attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Raw(str):
    """Markup built here from escaped parts; html_table inserts it as is."""


def _cell(value: Any) -> str:
    return value if isinstance(value, Raw) else escape(str(value))


def _warnings(lines: Iterable[str], heading: str) -> str:
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return f'<div class="warn" role="alert"><strong>{escape(heading)}</strong><ul>{items}</ul></div>' if items else ""


def _environment(env: Mapping[str, Any]) -> str:
    lines = environment_lines(env)
    if not lines:
        return '<p class="muted">No environment recorded.</p>'
    return '<ul class="env">' + "".join(f"<li>{escape(line)}</li>" for line in lines) + "</ul>"


def _case_card(case: Mapping[str, Any]) -> str:
    runs = case["runs"]
    box = svgplots.box_plot(
        [(f"run {r['run']} (n={r['n']})", r["box"]) for r in runs], title="distribution per run", width=460
    )
    medians = svgplots.ci_plot(
        [(f"run {r['run']}", r["p50"], *(r.get("p50_ci") or (r["p50"], r["p50"]))) for r in runs],
        title="per-run median, 95% CI",
        width=460,
    )
    flag = ' <span class="bad">UNSTABLE</span>' if case["unstable"] else ""
    return f'<div class="card"><h3>{escape(case["id"])}{flag}</h3>{box}{medians}</div>'


def render_summary(summary: Mapping[str, Any]) -> str:
    """report.html of a label: summary table, CDF of E2E latency, per-case plots, flamegraph links, profiler cost,
    harness and host, environment."""
    label = summary["label"]
    body = [f"<h1>Baseline {escape(label)}</h1>"]
    body.append(
        f'<p class="muted">Runs {escape(", ".join(str(r) for r in summary["runs"]))} · generated '
        f"{escape(str(summary.get('generated_at', '-')))} · a case is unstable when the cross-run CV of its "
        f"median exceeds {escape(fmt_pct(summary.get('cv_threshold')))}</p>"
    )
    body.append(
        _warnings(
            [f"run {e['run']} excluded ({e['status']}): {e.get('error') or '-'}" for e in summary["excluded_runs"]]
            + list(summary.get("environment_notes") or []),
            "Runs excluded or environments differ",
        )
    )
    rows = summary_rows(summary, unstable=Raw('<span class="bad">unstable</span>'))
    body.append("<h2>Summary</h2>")
    body.append(html_table(SUMMARY_HEADERS, rows, table_id="summary-table"))
    e2e = [case for case in summary["cases"] if case["phase"] == "e2e"]
    if e2e:
        body.append("<h2>End-to-end latency CDF</h2>")
        body.append(svgplots.cdf_plot([(c["id"], c["cdf"]) for c in e2e], title="E2E latency, all runs pooled"))
    for phase in summary.get("phases") or []:
        cases = [c for c in summary["cases"] if c["phase"] == phase]
        if cases:
            body.append(f"<h2>{escape(phase)} cases</h2>")
            body.append('<div class="cards">' + "".join(_case_card(c) for c in cases) + "</div>")
    body.append(_profiles(summary.get("profiles") or []))
    for heading, intro, headers, rows in per_run_tables(summary):
        body.append(f"<h2>{escape(heading)}</h2><p>{escape(intro)}</p>" + html_table(headers, rows))
    body.append(f"<h2>Environment (run {escape(str(summary['runs'][0]))})</h2>")
    body.append(_environment(summary.get("environment") or {}))
    return page(f"Baseline {label}", body)


def _profiles(profiles: Sequence[Mapping[str, Any]]) -> str:
    if not profiles:
        return ""
    rows = []
    for prof in profiles:
        hot = prof.get("hotpaths") or {}
        top = (hot.get("top") or [None])[0] or {}
        link = Raw(f'<a href="{escape(prof["svg"], quote=True)}">{escape(prof["svg"])}</a>') if prof.get("svg") else "-"
        rows.append(
            [
                prof["name"],
                prof["run"],
                hot.get("total_samples", "-"),
                fmt_pct(hot.get("message_passing_share")),
                f"{top.get('frame', '-')} ({fmt_pct(top.get('share'))})" if top else "-",
                link,
            ]
        )
    return "<h2>Profiles</h2>" + html_table(
        ["profile", "run", "samples", "message passing", "top frame (self)", "flamegraph"], rows
    )


def _marked(text: str) -> Raw | str:
    if text in ("regressed", "FAIL"):
        return Raw(f'<span class="bad">{escape(text)}</span>')
    if text in ("improved", "pass"):
        return Raw(f'<span class="good">{escape(text)}</span>')
    return text


def render_compare(verdict: Mapping[str, Any]) -> str:
    """report.html of a comparison: the verdict first (outcome, gates, SQL functions), then the warnings, then the
    ratio plot, every case and profile."""
    base, head = verdict["base"], verdict["head"]
    body = [f"<h1>Compare {escape(base)} &rarr; {escape(head)}</h1>"]
    passed = verdict["passed"]
    body.append(
        f'<div id="verdict" class="verdict {"pass" if passed else "fail"}">{escape(verdict_line(verdict))}</div>'
    )
    if verdict.get("confirmation"):
        body.append(f"<p><em>{escape(verdict['confirmation']['summary'])}</em></p>")
    body.append("<h2>Gates</h2>")
    body.append(
        html_table(["gate", "result", "kind", "detail"], gate_rows(verdict, mark=_marked), table_id="gates-table")
    )
    if verdict.get("functions"):
        body.append("<h2>SQL functions (cases combined; false alarms held at 5% over all functions)</h2>")
        body.append(html_table(FUNCTION_HEADERS, function_rows(verdict, mark=_marked), table_id="functions-table"))
    for heading, lines in warning_groups(verdict):
        body.append(_warnings(lines, heading))
    cases = verdict["cases"]
    body.append("<h2>Cases (ratio head/base; + is slower)</h2>")
    plotted = [(c["id"], c["p50"]["ratio"], *c["p50"]["ci"]) for c in cases if c["p50"].get("ci")]
    if plotted:
        body.append(
            svgplots.ci_plot(plotted, title="p50 ratio head/base with 95% CI", reference=1.0, latency=False, width=760)
        )
    body.append(html_table(CASE_HEADERS, case_rows(verdict, mark=_marked), table_id="compare-table"))
    for key, side in (("only_in_base", base), ("only_in_head", head)):
        if verdict.get(key):
            body.append(f"<p>Only in {escape(side)} (not compared): {escape(', '.join(verdict[key]))}</p>")
    for prof in verdict.get("profiles") or []:
        body.append(_profile_section(prof))
    if verdict.get("notes"):
        body.append("<h2>Notes</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in verdict["notes"]) + "</ul>")
    env = verdict.get("environment") or {}
    body.append(f"<h2>Environment of {escape(base)}</h2>{_environment(env.get('base') or {})}")
    body.append(f"<h2>Environment of {escape(head)}</h2>{_environment(env.get('head') or {})}")
    return page(f"Compare {base} -> {head}", body)


def _profile_section(prof: Mapping[str, Any]) -> str:
    diff = prof["diff"]
    mp = prof["message_passing"]
    link = escape(prof["diff_svg"], quote=True)
    parts = [
        f"<h2>Profile {escape(prof['name'])}</h2>",
        f"<p>Time ratio (samples per run) {prof['total_ratio']:.3f} &middot; message passing "
        f"{escape(fmt_pct(mp['base_share']))} &rarr; {escape(fmt_pct(mp['head_share']))} &middot; "
        f'<a href="{link}">differential flamegraph</a> (red grew, blue shrank)</p>',
    ]
    parts.append(html_table(PROFILE_HEADERS, profile_rows(diff)))
    for what, listed in frame_lists(diff):
        items = "".join(f"<li>{escape(frame)} ({escape(share)})</li>" for frame, share in listed)
        parts.append(f"<p>{escape(what)}:</p><ul>{items}</ul>")
    return "".join(parts)
