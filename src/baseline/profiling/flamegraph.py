"""Folded stacks -> self-contained SVG flamegraphs (icicle layout: root on top), plain and differential.

Hand-written because no maintained Python library renders folded stacks to SVG (flamegraph.pl is Perl, inferno
a Rust binary); kept small. Every frame has a <title> tooltip with its name, samples and share; frames under
`min_share` are left out. The inline script of `flamegraph_script` adds click-to-zoom, search and reset; the
picture is complete without it.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from baseline.profiling.diff import two_proportion_z
from baseline.profiling.flamegraph_script import HIGHLIGHT, SCRIPT, STYLE
from baseline.profiling.folded import merge, normalize, split_frame
from baseline.profiling.hotpaths import low_sample_note

__all__ = ["DIFF_SATURATION", "NOT_SIGNIFICANT", "render_diff_svg", "render_svg"]

#: A frame's share change (head - base, of all samples) at which the diff colour is full: the compare gates'
#: new-hot-path share, so a frame that could become a new hot path is painted as strongly as it gets.
DIFF_SATURATION = 0.05
#: Fill of differential frames whose change is not significant.
NOT_SIGNIFICANT = "rgb(212,212,212)"

_ROW = 17
_PAD = 10
_LINE = 14
_CHAR_PX = 6.6  # average glyph width of 11px Verdana/DejaVu Sans


@dataclass(slots=True)
class _Node:
    name: str
    value: int = 0
    children: dict[str, _Node] = field(default_factory=dict)
    # Differential graphs only: the same call path's samples in base, and its share in each run of either side.
    base: int = 0
    base_runs: list[float] = field(default_factory=list)
    head_runs: list[float] = field(default_factory=list)


def _tree(stacks: Mapping[str, int]) -> _Node:
    root = _Node("all")
    for stack, count in normalize(stacks).items():
        if count <= 0:
            continue
        root.value += count
        node = root
        for frame in stack.split(";"):
            child = node.children.get(frame)
            if child is None:
                child = node.children[frame] = _Node(frame)
            child.value += count
            node = child
    return root


def _overlay(head: _Node, other: _Node | None, visit: Callable[[_Node, _Node | None], None]) -> None:
    """Call `visit` on every node of head with the node of the same call path in other (None where absent)."""
    todo = [(head, other)]
    while todo:
        h, o = todo.pop()
        visit(h, o)
        for name, child in h.children.items():
            todo.append((child, o.children.get(name) if o is not None else None))


def _warm(name: str) -> str:
    """Deterministic warm colour per function name (the classic flamegraph 'hot' palette)."""
    h = zlib.crc32(split_frame(name)[0].encode())
    v1, v2, v3 = (h & 0xFF) / 255, ((h >> 8) & 0xFF) / 255, ((h >> 16) & 0xFF) / 255
    return f"rgb({205 + int(50 * v3)},{int(230 * v1)},{int(55 * v2)})"


def _label(name: str, width_px: float) -> str:
    """The function name cut to fit; the inline script does the same after a zoom."""
    text = split_frame(name)[0]
    fits = int((width_px - 6) / _CHAR_PX)
    if fits < 3:
        return ""
    return text if len(text) <= fits else text[: fits - 2] + ".."


def _fit(text: str, width_px: float) -> str:
    fits = int(width_px / _CHAR_PX)
    return text if len(text) <= fits else text[: max(fits - 2, 1)] + ".."


@dataclass(frozen=True)
class _Header:
    """What goes above the frames: warnings in red, links to the other views, a legend (diff graphs)."""

    title: str
    subtitle: str
    warnings: Sequence[str] = ()
    links: Sequence[tuple[str, str]] = ()  # (text, relative href)
    link_note: str = ""
    legend: Callable[[float, int], tuple[str, float]] | None = None  # (y, width) -> (markup, height)


def _header(h: _Header, width: int) -> tuple[str, float]:
    mid = f"{width / 2:.1f}"
    parts = [
        f'<text class="title" x="{mid}" y="18">{escape(h.title)}</text>',
        f'<text class="ui btn reset" x="{_PAD}" y="18">Reset zoom</text>',
        f'<text class="ui btn search" x="{width - _PAD}" y="18" text-anchor="end">Search</text>',
        f'<text class="sub" x="{mid}" y="32">{escape(h.subtitle)}</text>',
    ]
    y = 32.0
    for warning in h.warnings:
        y += _LINE
        parts.append(
            f'<text class="warn" x="{mid}" y="{y:.0f}">{escape(_fit("⚠ " + warning, width - 2 * _PAD))}</text>'
        )
    if h.links:
        y += _LINE
        anchors = " · ".join(f"<a href={quoteattr(href)}><tspan>{escape(text)}</tspan></a>" for text, href in h.links)
        note = f" — {escape(h.link_note)}" if h.link_note else ""
        parts.append(f'<text class="links" x="{mid}" y="{y:.0f}">{anchors}{note}</text>')
    if h.legend is not None:
        markup, height = h.legend(y + 6, width)
        parts.append(markup)
        y += height
    return "\n".join(parts), y + 8


def _render(
    root: _Node,
    *,
    header: _Header,
    width: int,
    min_share: float,
    color: Callable[[_Node, int], str],
    tooltip: Callable[[_Node], str],
) -> str:
    if root.value <= 0:
        raise ValueError("cannot render a flamegraph of a profile with no samples")
    if width < 200:
        raise ValueError(f"width must be at least 200 pixels, got {width!r}")
    head_markup, top = _header(header, width)
    scale = (width - 2 * _PAD) / root.value
    min_value = root.value * min_share
    parts: list[str] = []
    max_depth = 0
    # Iterative DFS from the root (drawn first: the script takes the first frame as the root); each frame knows
    # its first sample `s`, so the script can lay out any zoom; children sorted by name for a stable layout.
    todo: list[tuple[_Node, int, int]] = [(root, 0, 0)]
    while todo:
        node, depth, first = todo.pop()
        max_depth = max(max_depth, depth)
        x, w = _PAD + first * scale, node.value * scale
        y = top + depth * _ROW
        parts.append(
            f'<g class="f" data-s="{first}" data-v="{node.value}" data-d="{depth}">'
            f"<title>{escape(tooltip(node))}</title>"
            f'<rect x="{x:.2f}" y="{y:.0f}" width="{max(w - 0.5, 0.1):.2f}" height="{_ROW - 1}" rx="2" '
            f'fill="{color(node, depth)}"/>'
            f'<text x="{x + 3:.2f}" y="{y + _ROW - 5:.0f}">{escape(_label(node.name, w))}</text></g>'
        )
        at = first
        for name in sorted(node.children):
            child = node.children[name]
            if child.value >= min_value:
                todo.append((child, depth + 1, at))
            at += child.value
    height = int(top + (max_depth + 1) * _ROW + _PAD + 14)
    if "]]>" in SCRIPT:
        raise AssertionError("the inline script must not close its CDATA section")
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" class="fg" data-fg-pad="{_PAD}" data-fg-width="{width}" '
        f'data-fg-char="{_CHAR_PX}" data-fg-highlight="{HIGHLIGHT}">\n'
        f"<title>{escape(header.title)}</title>\n"
        f"<style>{STYLE}</style>\n"
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fdf8ef"/>\n'
        f"{head_markup}\n" + "\n".join(parts) + "\n"
        f'<text class="ui details" x="{_PAD}" y="{height - 6}"> </text>\n'
        f'<text class="ui matched" x="{width - _PAD}" y="{height - 6}"> </text>\n'
        f"<script><![CDATA[{SCRIPT}]]></script>\n</svg>\n"
    )


def render_svg(
    stacks: Mapping[str, int],
    *,
    title: str,
    width: int = 1200,
    min_share: float = 0.001,
    subtitle: str = "",
    notes: Sequence[str] = (),
    links: Sequence[tuple[str, str]] = (),
    link_note: str = "",
) -> str:
    """A flamegraph of one profile; hover a frame for `name — N samples (X.XX%)`, click it to zoom.

    `notes` are shown as warnings under the title, after the low-sample warning when the profile is small;
    `links` ((text, href) to the other views of the profile) on a line of their own, followed by `link_note`.
    """
    root = _tree(stacks)
    total = root.value

    def tooltip(node: _Node) -> str:
        return f"{node.name} — {node.value} samples ({node.value / total * 100:.2f}%)"

    low = low_sample_note(total)
    header = _Header(
        title=title,
        subtitle=subtitle or f"{total} samples; frames under {min_share * 100:g}% omitted",
        warnings=[*([low] if low else []), *notes],
        links=links,
        link_note=link_note,
    )
    return _render(
        root,
        header=header,
        width=width,
        min_share=min_share,
        color=lambda node, depth: "rgb(225,130,40)" if depth == 0 else _warm(node.name),
        tooltip=tooltip,
    )


# ---------------------------------------------------------------------------------------- differential


def _diff_fill(delta: float, significant: bool, saturation: float) -> str:
    if not significant:
        return NOT_SIGNIFICANT
    level = round(215 - 175 * min(1.0, abs(delta) / saturation))
    return f"rgb(255,{level},{level})" if delta > 0 else f"rgb({level},{level},255)"


def _beyond(base: Sequence[float], head: Sequence[float], delta: float) -> bool:
    """Every head run beyond every base run in the direction of the change (compare's replication rule); with
    fewer than two runs a side it cannot be judged and holds."""
    if len(base) < 2 or len(head) < 2:
        return True
    return min(head) > max(base) if delta > 0 else max(head) < min(base)


def _legend(saturation: float, alpha: float) -> Callable[[float, int], tuple[str, float]]:
    """The colour scale, a swatch per fifth of `saturation` each way, labelled in pp, then the grey and the rule."""

    def draw(y: float, width: int) -> tuple[str, float]:
        size, step = 30, 32
        levels = [k / 5 * saturation for k in (-5, -4, -3, -2, -1, 1, 2, 3, 4, 5)]
        left = width / 2 - (len(levels) * step + 300) / 2
        base = f'y="{y + 10:.0f}" class="legend"'
        parts = [f'<g class="legend-scale"><text x="{left - 6:.1f}" {base} text-anchor="end">shrank</text>']
        for i, level in enumerate(levels):
            x = left + i * step + (6 if level > 0 else 0)
            fill = _diff_fill(level, True, saturation)
            parts.append(f'<rect x="{x:.1f}" y="{y:.0f}" width="{size}" height="13" fill="{fill}"/>')
            ink = ' style="fill:#fff"' if abs(level) > 0.5 * saturation else ""
            parts.append(f'<text x="{x + size / 2:.1f}" {base} text-anchor="middle"{ink}>{level * 100:+.0f}</text>')
        x = left + len(levels) * step + 12
        parts.append(f'<text x="{x:.1f}" {base}>grew (pp of all samples)</text>')
        x += 180
        parts.append(f'<rect x="{x:.1f}" y="{y:.0f}" width="{size}" height="13" fill="{NOT_SIGNIFICANT}"/>')
        parts.append(f'<text x="{x + size + 4:.1f}" {base}>not significant</text></g>')
        rule = (
            f"colour: head share - base share of all samples, full at {saturation * 100:g} pp and beyond; grey: "
            f"two-proportion z-test p >= {alpha:g} or, with 2+ runs a side, not every head run beyond every base run"
        )
        line = escape(_fit(rule, width - 2 * _PAD))
        parts.append(f'<text class="sub" x="{width / 2:.1f}" y="{y + 13 + _LINE:.0f}">{line}</text>')
        return "\n".join(parts), 13 + _LINE + 4

    return draw


def _runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def render_diff_svg(
    base_runs: Sequence[Mapping[str, int]],
    head_runs: Sequence[Mapping[str, int]],
    *,
    title: str,
    width: int = 1200,
    min_share: float = 0.001,
    alpha: float = 0.05,
    saturation: float = DIFF_SATURATION,
) -> str:
    """Differential flamegraph drawn over head's shape (the runs of each side merged): red where a call path's
    share of all samples grew, blue where it shrank, on a fixed scale full at `saturation`; grey where the change
    is not significant.

    Significant means a two-proportion z-test p < `alpha` on the merged samples and, since samples are
    autocorrelated and the z-test alone over-confident, with two or more runs a side every head run's share beyond
    every base run's (the rule compare's gates use). Frames only in base do not appear (the profile diff table
    lists them).
    """
    if isinstance(base_runs, Mapping) or isinstance(head_runs, Mapping):
        raise TypeError("render_diff_svg takes each side's runs: a sequence of folded profiles, not one profile")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be within (0, 1), got {alpha!r}")
    if saturation <= 0.0:
        raise ValueError(f"saturation must be a positive share, got {saturation!r}")
    base_root, head_root = _tree(merge(*base_runs)), _tree(merge(*head_runs))
    if base_root.value <= 0:
        raise ValueError("cannot diff against a base profile with no samples")
    if head_root.value <= 0:
        raise ValueError("cannot draw a differential flamegraph of a head profile with no samples")
    base_total, head_total = base_root.value, head_root.value

    def record_base(h: _Node, b: _Node | None) -> None:
        h.base = b.value if b is not None else 0

    _overlay(head_root, base_root, record_base)
    for runs, attr in ((base_runs, "base_runs"), (head_runs, "head_runs")):
        for run in runs:
            run_root = _tree(run)
            if run_root.value <= 0:
                continue
            run_total = run_root.value

            def record_run(h: _Node, r: _Node | None, attr: str = attr, run_total: int = run_total) -> None:
                getattr(h, attr).append((r.value if r is not None else 0) / run_total)

            _overlay(head_root, run_root, record_run)

    def test(node: _Node) -> tuple[float, float, bool]:
        delta = node.value / head_total - node.base / base_total
        _, p = two_proportion_z(node.base, base_total, node.value, head_total)
        return delta, p, p < alpha and delta != 0.0 and _beyond(node.base_runs, node.head_runs, delta)

    def color(node: _Node, _depth: int) -> str:
        delta, _, significant = test(node)
        return _diff_fill(delta, significant, saturation)

    def tooltip(node: _Node) -> str:
        delta, p, significant = test(node)
        return (
            f"{node.name} — head {node.value} samples ({node.value / head_total * 100:.2f}%), "
            f"base {node.base} samples ({node.base / base_total * 100:.2f}%), change {delta * 100:+.2f} pp, "
            f"p={p:.2g}, {'significant' if significant else 'not significant'}"
        )

    warnings = [
        f"{side}: {note}"
        for side, total in (("head", head_total), ("base", base_total))
        if (note := low_sample_note(total)) is not None
    ]
    if min(len(base_runs), len(head_runs)) < 2:
        warnings.append(
            "one run on a side: only the z-test judges, blind to how runs differ from each other; colours are hints"
        )
    header = _Header(
        title=title,
        subtitle=(
            f"head {head_total} samples ({_runs(len(head_runs))}) vs base {base_total} ({_runs(len(base_runs))}), "
            "drawn over head; frames only in base are not drawn"
        ),
        warnings=warnings,
        legend=_legend(saturation, alpha),
    )
    return _render(head_root, header=header, width=width, min_share=min_share, color=color, tooltip=tooltip)
