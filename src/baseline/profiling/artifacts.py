"""Everything rendered from one folded profile, written beside it: flamegraphs of all samples and of working time
(SVG), speedscope JSON, hot paths (JSON + md).

The folded file stays the stored truth (py-spy's frames as captured); these are views of it, rebuilt at any time
from it, all of the same normalised stacks (`folded.normalize`). An empty profile still gets every file, each
saying so.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from baseline.profiling import flamegraph, folded, hotpaths, report, speedscope
from baseline.results import read_json, run_dirs, run_number
from baseline.store import write_json_atomic, write_text_atomic

__all__ = ["EMPTY_NOTE", "artifact_paths", "collect", "load_stacks", "render_artifacts", "write_report"]

EMPTY_NOTE = "no samples: the profiled process was idle (capture without --idle) or exited before py-spy sampled it"


def artifact_paths(folded_path: Path) -> dict[str, Path]:
    """Where the views of `name.folded` go: `name.svg`, `name.working.svg`, `name.speedscope.json`,
    `name.hotpaths.{json,md}`."""
    folded_path = Path(folded_path)
    name = folded_path.name.removesuffix(".folded")
    base = folded_path.parent
    return {
        "folded": folded_path,
        "svg": base / f"{name}.svg",
        "working_svg": base / f"{name}.working.svg",
        "speedscope": base / f"{name}.speedscope.json",
        "hotpaths_json": base / f"{name}.hotpaths.json",
        "hotpaths_md": base / f"{name}.hotpaths.md",
    }


def load_stacks(folded_path: Path) -> dict[str, int]:
    """The profile as every view and analysis reads it (`folded.normalize`: by function, the profiled process's
    root frame dropped); a missing file is an empty profile."""
    path = Path(folded_path)
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return folded.normalize(folded.parse(text))


def _empty_svg(title: str, note: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="1200" height="60" viewBox="0 0 1200 60">\n'
        '<rect x="0" y="0" width="1200" height="60" fill="#fdf8ef"/>\n'
        '<text x="600" y="22" text-anchor="middle" font-family="Verdana,\'DejaVu Sans\',sans-serif" '
        f'font-size="16">{escape(title)}</text>\n'
        '<text x="600" y="44" text-anchor="middle" font-family="Verdana,\'DejaVu Sans\',sans-serif" '
        f'font-size="11" fill="#555">{escape(note)}</text>\n</svg>\n'
    )


def _links(paths: dict[str, Path], *skip: str) -> list[tuple[str, str]]:
    """(text, name) of the sibling views, for the SVGs' and the markdown's link line."""
    views = (("svg", "all samples"), ("working_svg", "working time only"), ("speedscope", "speedscope file"))
    return [(text, paths[kind].name) for kind, text in views if kind not in skip]


def _working_view(stacks: dict[str, int], title: str, paths: dict[str, Path], notes: list[str]) -> str:
    """The flamegraph without idle stacks, its title saying how much of the profile it keeps."""
    total = folded.total(stacks)
    working = hotpaths.working_stacks(stacks)
    kept = folded.total(working)
    heading = f"{title} — working time: {kept} of {total} samples ({kept / total * 100:.1f}%), idle stacks left out"
    if kept == 0:
        return _empty_svg(heading, "no working samples: every sample was an idle wait")
    return flamegraph.render_svg(
        working, title=heading, notes=notes, links=_links(paths, "working_svg"), link_note=speedscope.HOW_TO_OPEN
    )


def render_artifacts(
    folded_path: Path, *, title: str, notes: list[str] | None = None, modules: Sequence[str] = ()
) -> dict[str, Path]:
    """Render the views of one folded profile beside it and return every path by kind (folded included).

    `notes` (e.g. "worker-1 exited during capture") are carried into hotpaths.json, the markdown and the SVGs;
    `modules` are the target's lifecycle module names, whose shares the hot-path views report.
    """
    paths = artifact_paths(Path(folded_path))
    stacks = load_stacks(paths["folded"])
    notes = list(notes or [])
    samples = folded.total(stacks)
    analysis: dict[str, Any]
    if samples == 0:
        notes.append(EMPTY_NOTE)
        analysis = {"total_samples": 0, "idle_samples": 0, "top_self": [], "top_inclusive": [], "notes": notes}
        svg = working_svg = _empty_svg(title, EMPTY_NOTE)
        markdown = f"## {title}\n\n" + "".join(f"> {note}\n" for note in notes)
    else:
        analysis = hotpaths.analyze(stacks, modules=modules)
        analysis["notes"] = notes
        svg = flamegraph.render_svg(
            stacks, title=title, notes=notes, links=_links(paths, "svg"), link_note=speedscope.HOW_TO_OPEN
        )
        working_svg = _working_view(stacks, title, paths, notes)
        markdown = hotpaths.render_markdown(analysis, title)
        views = " · ".join(f"[{text}]({name})" for text, name in _links(paths))
        markdown += f"\nViews: {views} ({speedscope.HOW_TO_OPEN}).\n"
        if notes:
            markdown += "\n" + "".join(f"> {note}\n" for note in notes)
    analysis["title"] = title
    analysis["folded"] = paths["folded"].name
    write_text_atomic(paths["svg"], svg)
    write_text_atomic(paths["working_svg"], working_svg)
    write_text_atomic(paths["hotpaths_md"], markdown)
    write_json_atomic(paths["speedscope"], speedscope.to_speedscope(stacks, name=title))
    write_json_atomic(paths["hotpaths_json"], analysis)
    return paths


# ---------------------------------------------------------------------------------------- a label's profiles


def _notes_for(folded: Path) -> list[str]:
    name = folded.name.removesuffix(".folded")
    for sidecar in (folded.with_name(f"{name}.capture.json"), folded.with_name(f"{name}.json")):
        if sidecar.exists():
            try:
                data: Any = read_json(sidecar)
            except Exception as exc:  # a broken sidecar must not hide the profile
                return [f"unreadable {sidecar.name}: {exc}"]
            return [str(n) for n in data.get("notes", [])] if isinstance(data, dict) else []
    return []


def collect(label_dir: Path) -> list[report.ProfileRow]:
    """Every `run-*/profiles/*.folded` under the label folder, by run then name."""
    rows: list[report.ProfileRow] = []
    for run_dir in run_dirs(label_dir):
        number = run_number(run_dir)
        for folded_path in sorted((run_dir / "profiles").glob("*.folded")):
            notes = _notes_for(folded_path)
            try:
                stacks = load_stacks(folded_path)
            except ValueError as exc:
                stacks, notes = {}, [*notes, f"unreadable folded file: {exc}"]
            svg = artifact_paths(folded_path)["svg"].relative_to(label_dir).as_posix()
            name = folded_path.name.removesuffix(".folded")
            rows.append(report.summarize_profile(number, name, svg, stacks, notes))
    rows.sort(key=lambda r: (r.run, r.name))
    return rows


def write_report(label_dir: Path, label: str) -> tuple[list[report.ProfileRow], Path]:
    """Collect the rows and write `<label_dir>/profiles.md`."""
    rows = collect(label_dir)
    path = Path(label_dir) / "profiles.md"
    write_text_atomic(path, report.render_markdown(label, rows))
    return rows, path
