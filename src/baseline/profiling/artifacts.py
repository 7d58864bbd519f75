"""Everything rendered from one folded profile, written beside it: SVG, speedscope JSON, hot paths (JSON + md).

The folded file stays the stored truth; these are views of it, rebuilt at any time from it. Line numbers are
stripped first so samples aggregate by function. An empty profile still gets every file, each saying so.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from baseline.profiling import flamegraph, folded, hotpaths, speedscope
from baseline.store import write_json_atomic

__all__ = ["EMPTY_NOTE", "artifact_paths", "load_stacks", "render_artifacts"]

EMPTY_NOTE = "no samples: the profiled process was idle (capture without --idle) or exited before py-spy sampled it"


def artifact_paths(folded_path: Path) -> dict[str, Path]:
    """Where the views of `name.folded` go: `name.svg`, `name.speedscope.json`, `name.hotpaths.{json,md}`."""
    folded_path = Path(folded_path)
    name = folded_path.name.removesuffix(".folded")
    base = folded_path.parent
    return {
        "folded": folded_path,
        "svg": base / f"{name}.svg",
        "speedscope": base / f"{name}.speedscope.json",
        "hotpaths_json": base / f"{name}.hotpaths.json",
        "hotpaths_md": base / f"{name}.hotpaths.md",
    }


def load_stacks(folded_path: Path) -> dict[str, int]:
    """The profile aggregated by function (line numbers dropped); a missing file is an empty profile."""
    path = Path(folded_path)
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return folded.strip_line_numbers(folded.parse(text))


def _write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def render_artifacts(folded_path: Path, *, title: str, notes: list[str] | None = None) -> dict[str, Path]:
    """Render the views of one folded profile beside it and return every path by kind (folded included).

    `notes` (e.g. "worker-1 exited during capture") are carried into hotpaths.json and the markdown.
    """
    paths = artifact_paths(Path(folded_path))
    stacks = load_stacks(paths["folded"])
    notes = list(notes or [])
    samples = folded.total(stacks)
    analysis: dict[str, Any]
    if samples == 0:
        notes.append(EMPTY_NOTE)
        analysis = {"total_samples": 0, "idle_samples": 0, "top_self": [], "top_inclusive": [], "notes": notes}
        svg = _empty_svg(title, EMPTY_NOTE)
        markdown = f"## {title}\n\n" + "".join(f"> {note}\n" for note in notes)
    else:
        analysis = hotpaths.analyze(stacks)
        analysis["notes"] = notes
        svg = flamegraph.render_svg(stacks, title=title)
        markdown = hotpaths.render_markdown(analysis, title)
        if notes:
            markdown += "\n" + "".join(f"> {note}\n" for note in notes)
    analysis["title"] = title
    analysis["folded"] = paths["folded"].name
    _write_text_atomic(paths["svg"], svg)
    _write_text_atomic(paths["hotpaths_md"], markdown)
    write_json_atomic(paths["speedscope"], speedscope.to_speedscope(stacks, name=title))
    write_json_atomic(paths["hotpaths_json"], analysis)
    return paths
