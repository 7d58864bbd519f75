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

from baseline.profiling.flamegraph_script import HIGHLIGHT, SCRIPT, STYLE
from baseline.profiling.folded import normalize, split_frame
from baseline.profiling.hotpaths import low_sample_note

__all__ = ["render_diff_svg", "render_svg"]

_ROW = 17
_PAD = 10
_LINE = 14
_CHAR_PX = 6.6  # average glyph width of 11px Verdana/DejaVu Sans


@dataclass(slots=True)
class _Node:
    name: str
    value: int = 0
    children: dict[str, _Node] = field(default_factory=dict)
    base: int = 0  # samples of the same path in the base profile (differential graphs only)


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


def render_diff_svg(
    base: Mapping[str, int],
    head: Mapping[str, int],
    *,
    title: str,
    width: int = 1200,
    min_share: float = 0.001,
) -> str:
    """Differential flamegraph drawn over head's shape: red where a frame's share grew, blue where it shrank.

    Colour intensity is the share change relative to the largest change in the graph; frames only in base do
    not appear (the profile diff table lists them).
    """
    base_root, head_root = _tree(base), _tree(head)
    if base_root.value <= 0:
        raise ValueError("cannot diff against a base profile with no samples")
    if head_root.value <= 0:
        raise ValueError("cannot draw a differential flamegraph of a head profile with no samples")
    base_total, head_total = base_root.value, head_root.value

    def record_base(h: _Node, b: _Node | None) -> None:
        h.base = b.value if b is not None else 0

    _overlay(head_root, base_root, record_base)

    def delta(node: _Node) -> float:
        return node.value / head_total - node.base / base_total

    biggest = 0.0
    todo = [head_root]
    while todo:
        node = todo.pop()
        biggest = max(biggest, abs(delta(node)))
        todo.extend(node.children.values())
    biggest = biggest or 1.0

    def color(node: _Node, _depth: int) -> str:
        d = delta(node)
        i = min(1.0, abs(d) / biggest)
        fade = int(235 - 175 * i)
        return f"rgb(255,{fade},{fade})" if d > 0 else f"rgb({fade},{fade},255)" if d < 0 else "rgb(235,235,235)"

    def tooltip(node: _Node) -> str:
        return (
            f"{node.name} — head {node.value} samples ({node.value / head_total * 100:.2f}%), "
            f"base {node.base} samples ({node.base / base_total * 100:.2f}%), change {delta(node) * 100:+.2f} pp"
        )

    header = _Header(
        title=title,
        subtitle=f"head {head_total} vs base {base_total} samples; red grew, blue shrank (share of samples)",
    )
    return _render(head_root, header=header, width=width, min_share=min_share, color=color, tooltip=tooltip)
