"""The profile table of a label: every flamegraph written, its sample count and top frames (`profile-report`).

Top frames are ranked by self share among working stacks: with idle frames kept (service windows), the top
of a raw ranking is just `select`/`poll`; the idle share gets its own column instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from baseline.profiling.folded import frame_name
from baseline.profiling.hotpaths import DATABASE_PATTERNS, IDLE_LEAF_NAMES, LOW_SAMPLES, is_idle_stack
from baseline.profiling.speedscope import HOW_TO_OPEN

__all__ = ["ProfileRow", "format_top", "is_idle", "render_markdown", "summarize_profile"]

TOP_FRAMES = 3


def is_idle(frames: Sequence[str]) -> bool:
    """hotpaths' idle test, plus a wait leaf outside the driver: `Condition.wait (threading.py)` is an idle pool
    thread even under psycopg_pool frames, while `Connection.wait (psycopg/...)` is a database wait."""
    if is_idle_stack(frames):
        return True
    leaf = frames[-1]
    if any(p in leaf.lower() for p in DATABASE_PATTERNS):
        return False
    return frame_name(leaf).rsplit(".", 1)[-1].strip().lower() in IDLE_LEAF_NAMES


@dataclass(frozen=True)
class ProfileRow:
    """One folded profile as the table shows it; shares are fractions of all samples."""

    run: int
    name: str
    svg: str
    samples: int
    idle_share: float
    top: list[tuple[str, float]]
    notes: list[str] = field(default_factory=list)


def summarize_profile(
    run: int, name: str, svg: str, stacks: Mapping[str, int], notes: Sequence[str] = (), *, top: int = TOP_FRAMES
) -> ProfileRow:
    """Sample count, idle share and the `top` leaf frames by self share among non-idle stacks."""
    total = 0
    idle = 0
    self_counts: dict[str, int] = {}
    for stack, count in stacks.items():
        if count <= 0:
            continue
        frames = stack.split(";")
        total += count
        if is_idle(frames):
            idle += count
            continue
        self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + count
    ranked = sorted(self_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return ProfileRow(
        run=run,
        name=name,
        svg=svg,
        samples=total,
        idle_share=idle / total if total else 0.0,
        top=[(frame, n / total) for frame, n in ranked],
        notes=list(notes),
    )


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def format_top(row: ProfileRow) -> str:
    return "\n".join(f"{frame} {_pct(share)}" for frame, share in row.top) or "(no working samples)"


def _views(svg: str) -> str:
    """Links to the working-time flamegraph and the speedscope file written beside `<name>.svg`."""
    stem = svg.removesuffix(".svg")
    return f"[working time]({stem}.working.svg) · [speedscope]({stem}.speedscope.json)"


def render_markdown(label: str, rows: Iterable[ProfileRow]) -> str:
    """profiles.md: one table row per flamegraph, then the notes (e.g. a service that exited mid-capture)."""
    rows = list(rows)
    lines = [
        f"# Profiles of `{_md(label)}`",
        "",
        f"{len(rows)} flamegraphs. Top frames: self share of all samples among working (non-idle) stacks. "
        f"Samples marked ⚠ are fewer than {LOW_SAMPLES}: shares of small frames are noise. Speedscope files: "
        f"{HOW_TO_OPEN}.",
        "",
        "| run | profile | samples | idle | top frames (self share) | other views |",
        "|---:|---|---:|---:|---|---|",
    ]
    for row in rows:
        top = "<br>".join(f"`{_md(frame)}` {_pct(share)}" for frame, share in row.top) or "(no working samples)"
        flag = " ⚠" if row.notes else ""
        few = " ⚠" if 0 < row.samples < LOW_SAMPLES else ""
        lines.append(
            f"| {row.run} | [{_md(row.name)}]({row.svg}){flag} | {row.samples}{few} | {_pct(row.idle_share)} | {top} "
            f"| {_views(row.svg)} |"
        )
    noted = [row for row in rows if row.notes]
    if noted:
        lines += ["", "## Notes", ""]
        lines += [f"- run {row.run} `{_md(row.name)}`: {_md(note)}" for row in noted for note in row.notes]
    return "\n".join(lines) + "\n"
