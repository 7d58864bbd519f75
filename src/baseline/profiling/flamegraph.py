"""Folded stacks -> self-contained SVG flamegraphs (icicle layout: root on top), plain and differential.

Hand-written because no maintained Python library renders folded stacks to SVG; kept deliberately small.
Every frame has a <title> tooltip with its name, samples and share; frames under `min_share` are left out.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from baseline.profiling.folded import normalize, split_frame

__all__ = ["render_diff_svg", "render_svg"]

_ROW = 17
_TOP = 36
_PAD = 10
_CHAR_PX = 6.6  # average glyph width of 11px Verdana/DejaVu Sans


@dataclass(slots=True)
class _Node:
    name: str
    value: int = 0
    base: int = 0  # samples of the same path in the base profile (differential graphs only)
    children: dict[str, _Node] = field(default_factory=dict)


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


def _warm(name: str) -> str:
    """Deterministic warm colour per function name (the classic flamegraph 'hot' palette)."""
    h = zlib.crc32(split_frame(name)[0].encode())
    v1, v2, v3 = (h & 0xFF) / 255, ((h >> 8) & 0xFF) / 255, ((h >> 16) & 0xFF) / 255
    return f"rgb({205 + int(50 * v3)},{int(230 * v1)},{int(55 * v2)})"


def _label(name: str, width_px: float) -> str:
    text = split_frame(name)[0]
    fits = int((width_px - 6) / _CHAR_PX)
    if fits < 3:
        return ""
    return text if len(text) <= fits else text[: fits - 2] + ".."


def _render(
    root: _Node,
    *,
    title: str,
    subtitle: str,
    width: int,
    min_share: float,
    color: Callable[[_Node, int], str],
    tooltip: Callable[[_Node], str],
) -> str:
    if root.value <= 0:
        raise ValueError("cannot render a flamegraph of a profile with no samples")
    if width < 200:
        raise ValueError(f"width must be at least 200 pixels, got {width!r}")
    scale = (width - 2 * _PAD) / root.value
    min_value = root.value * min_share
    parts: list[str] = []
    max_depth = 0
    # Iterative DFS: (node, depth, x); children sorted by name for a stable, diffable layout.
    todo: list[tuple[_Node, int, float]] = [(root, 0, float(_PAD))]
    while todo:
        node, depth, x = todo.pop()
        max_depth = max(max_depth, depth)
        w = node.value * scale
        y = _TOP + depth * _ROW
        label = escape(_label(node.name, w))
        parts.append(
            f"<g><title>{escape(tooltip(node))}</title>"
            f'<rect x="{x:.2f}" y="{y}" width="{max(w - 0.5, 0.1):.2f}" height="{_ROW - 1}" rx="2" '
            f'fill="{color(node, depth)}"/>'
            + (f'<text x="{x + 3:.2f}" y="{y + _ROW - 5}">{label}</text>' if label else "")
            + "</g>"
        )
        cx = x
        for name in sorted(node.children):
            child = node.children[name]
            if child.value >= min_value:
                todo.append((child, depth + 1, cx))
            cx += child.value * scale
    height = _TOP + (max_depth + 1) * _ROW + _PAD + 14
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">\n'
        "<style>text{font-family:Verdana,'DejaVu Sans',sans-serif;font-size:11px;fill:#000;pointer-events:none}"
        "g:hover rect{stroke:#000;stroke-width:0.8}.title{font-size:16px;text-anchor:middle}"
        ".sub{font-size:11px;fill:#555;text-anchor:middle}</style>\n"
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fdf8ef"/>\n'
        f'<text class="title" x="{width / 2:.1f}" y="18">{escape(title)}</text>\n'
        f'<text class="sub" x="{width / 2:.1f}" y="31">{escape(subtitle)}</text>\n' + "\n".join(parts) + "\n</svg>\n"
    )


def render_svg(stacks: Mapping[str, int], *, title: str, width: int = 1200, min_share: float = 0.001) -> str:
    """A flamegraph of one profile; hover a frame for `name — N samples (X.XX%)`."""
    root = _tree(stacks)
    total = root.value

    def tooltip(node: _Node) -> str:
        return f"{node.name} — {node.value} samples ({node.value / total * 100:.2f}%)"

    return _render(
        root,
        title=title,
        subtitle=f"{total} samples; frames under {min_share * 100:g}% omitted",
        width=width,
        min_share=min_share,
        color=lambda node, depth: "rgb(225,130,40)" if depth == 0 else _warm(node.name),
        tooltip=tooltip,
    )


def _attach_base(head: _Node, base: _Node) -> None:
    """Record on every head node the samples of the same call path in base (walked side by side)."""
    todo = [(head, base)]
    while todo:
        h, b = todo.pop()
        h.base = b.value
        for name, child in h.children.items():
            other = b.children.get(name)
            if other is not None:
                todo.append((child, other))


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
    _attach_base(head_root, base_root)

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

    return _render(
        head_root,
        title=title,
        subtitle=f"head {head_total} vs base {base_total} samples; red grew, blue shrank (share of samples)",
        width=width,
        min_share=min_share,
        color=color,
        tooltip=tooltip,
    )
