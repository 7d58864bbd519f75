"""The benchmark inventory `audit` writes: every bench the plan names, and whether it recorded what it registers.

Pure: the command reads the recorded sample counts and writes the markdown.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

# The refactor plan's placeholder benches: (name, phase, what it should measure, keywords that find it).
PLAN_PLACEHOLDERS = (
    (
        "orchestration_coordination_latency",
        "orchestration",
        "step discovery, queue publishing, notification overhead",
        ("coordination",),
    ),
    ("worker_processing_cycle", "worker", "claim, execute, submit", ("worker_processing", "processing_cycle")),
    ("framework_overhead_vs_noop", "framework", "framework overhead vs a no-op handler", ("overhead", "noop", "no-op")),
)


def _field(entry: Any, name: str, default: Any = None) -> Any:
    return entry.get(name, default) if isinstance(entry, dict) else getattr(entry, name, default)


def _normal(text: str) -> str:
    return text.lower().replace("-", "_").replace(" ", "_")


def expand_braces(pattern: str) -> list[str]:
    """`a/{1,10}` -> a/1, a/10 and `s={1..3}` -> s=1, s=2, s=3 (the registry's case notation)."""
    match = re.search(r"\{([^{}]*)\}", pattern)
    if match is None:
        return [pattern]
    body = match.group(1)
    span = re.fullmatch(r"(-?\d+)\.\.(-?\d+)", body)
    options = [str(i) for i in range(int(span.group(1)), int(span.group(2)) + 1)] if span else body.split(",")
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return [expanded for option in options for expanded in expand_braces(head + option + tail)]


def _case_patterns(entry: Any) -> list[str]:
    cases = _field(entry, "cases", []) or []
    return [str(c) for c in cases] if not isinstance(cases, str) else [cases]


def inventory(benches: list[Any], recorded: dict[str, int]) -> list[dict[str, Any]]:
    """Rows for every registered bench plus the plan's placeholders that nobody registered."""
    rows: list[dict[str, Any]] = []
    for entry in benches:
        patterns = _case_patterns(entry)
        implemented = bool(_field(entry, "implemented", False))
        status = "implemented" if implemented else "placeholder"
        samples: int | None = None
        phase_recorded = any(cid.startswith(str(_field(entry, "phase", "")) + "/") for cid in recorded)
        if implemented and phase_recorded:
            expected = [case for p in patterns for case in expand_braces(p)]
            found = {cid: n for cid, n in recorded.items() if any(fnmatch.fnmatchcase(cid, p) for p in expected)}
            samples = sum(found.values())
            if samples == 0:
                status = "placeholder (registered, no samples recorded)"
            else:
                missing = [p for p in expected if not any(fnmatch.fnmatchcase(cid, p) for cid in found)]
                if missing:
                    status = f"implemented ({len(missing)} registered case(s) without samples)"
        rows.append(
            {
                "name": str(_field(entry, "name", "?")),
                "phase": str(_field(entry, "phase", "?")),
                "cases": patterns,
                "command": str(_field(entry, "command", "") or _field(entry, "session", "") or ""),
                "status": status,
                "samples": samples,
            }
        )
    names = " ".join(_normal(row["name"]) for row in rows)
    for name, phase, what, keywords in PLAN_PLACEHOLDERS:
        if not any(keyword.replace("-", "_") in names for keyword in keywords):
            rows.append(
                {
                    "name": name,
                    "phase": phase,
                    "cases": [what],
                    "command": "",
                    "status": "placeholder (in the plan, not registered)",
                    "samples": None,
                }
            )
    return rows


def inventory_markdown(rows: list[dict[str, Any]], label: str | None, generated_at: str) -> str:
    lines = [
        "# Benchmark inventory",
        "",
        f"Generated {generated_at} by `baseline audit`"
        + (f"; sample counts from label `{label}`'s newest run." if label else "."),
        "",
        "| bench | phase | cases | status | samples | run command |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        cases = "<br>".join(f"`{c}`" for c in row["cases"]) or "-"
        samples = "-" if row["samples"] is None else str(row["samples"])
        command = f"`{row['command']}`" if row["command"] else "-"
        lines.append(f"| {row['name']} | {row['phase']} | {cases} | {row['status']} | {samples} | {command} |")
    implemented = sum(1 for r in rows if r["status"] == "implemented")
    lines += ["", f"{implemented} of {len(rows)} benches implemented; the rest are placeholders.", ""]
    return "\n".join(lines)
