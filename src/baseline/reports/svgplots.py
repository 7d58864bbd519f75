"""Inline SVG plots for the HTML reports.

Hand-written on purpose: the reports must be self-contained (no JS, no fonts, no network), which rules out
plotting libraries that emit scripts, and matplotlib is a heavy dependency for four simple chart types.
Every function is pure: numbers in, an `<svg>` string out. All text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

from baseline.reports.units import unit_for

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
_FONT = 'font-family="sans-serif" font-size="12"'
_LEFT = 150  # room for row labels
_RIGHT = 20
_TOP = 30
_AXIS = 34  # room for the x axis ticks and unit


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick positions (1, 2, 5 x 10^k steps) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"axis bounds must be finite numbers, got {lo!r}..{hi!r}")
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.floor(lo / step) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < hi:
        ticks.append(round(value, 12))
    return ticks


class _Axis:
    """Linear map from data values (ns or ratios) to x pixels, with ticks in a readable unit."""

    def __init__(self, lo: float, hi: float, width: int, *, latency: bool = True) -> None:
        self.ticks = nice_ticks(lo, hi)
        self.lo, self.hi = self.ticks[0], self.ticks[-1]
        self.x0, self.x1 = _LEFT, width - _RIGHT
        self.divisor, self.unit = unit_for(max(abs(self.lo), abs(self.hi))) if latency else (1.0, "")

    def x(self, value: float) -> float:
        span = self.hi - self.lo or 1.0
        return self.x0 + (value - self.lo) / span * (self.x1 - self.x0)

    def render(self, y: float) -> list[str]:
        parts = [f'<line x1="{self.x0}" y1="{y}" x2="{self.x1}" y2="{y}" stroke="#444"/>']
        for tick in self.ticks:
            tx = self.x(tick)
            label = f"{tick / self.divisor:g}"
            parts.append(f'<line x1="{tx:.1f}" y1="{y}" x2="{tx:.1f}" y2="{y + 4}" stroke="#444"/>')
            parts.append(f'<text x="{tx:.1f}" y="{y + 16}" text-anchor="middle" {_FONT}>{escape(label)}</text>')
        if self.unit:
            parts.append(f'<text x="{self.x1}" y="{y + 30}" text-anchor="end" {_FONT}>{escape(self.unit)}</text>')
        return parts

    def grid(self, top: float, bottom: float) -> list[str]:
        return [
            f'<line x1="{self.x(t):.1f}" y1="{top}" x2="{self.x(t):.1f}" y2="{bottom}" stroke="#e5e5e5"/>'
            for t in self.ticks
        ]


def _frame(width: int, height: int, title: str, body: list[str]) -> str:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<rect width="{width}" height="{height}" fill="#fff"/>'
        f'<text x="{_LEFT}" y="18" {_FONT} font-weight="bold">{escape(title)}</text>'
    )
    return head + "".join(body) + "</svg>"


def _row_label(y: float, text: str) -> str:
    short = text if len(text) <= 22 else "…" + text[-21:]  # the tail tells cases apart (batch_size=10)
    return f'<text x="{_LEFT - 8}" y="{y + 4:.1f}" text-anchor="end" {_FONT}>{escape(short)}</text>'


def box_plot(rows: Sequence[tuple[str, Mapping[str, float]]], *, title: str, width: int = 640) -> str:
    """Horizontal box plots, one row per run: whiskers lo..hi, box q1..q3, a line at the median.

    Each row's mapping needs lo, q1, median, q3, hi (nanoseconds).
    """
    if not rows:
        raise ValueError("box_plot needs at least one row")
    row_h = 28
    height = _TOP + row_h * len(rows) + _AXIS
    lo = min(float(box["lo"]) for _, box in rows)
    hi = max(float(box["hi"]) for _, box in rows)
    axis = _Axis(lo, hi, width)
    body = axis.grid(_TOP, _TOP + row_h * len(rows))
    for i, (label, box) in enumerate(rows):
        cy = _TOP + row_h * i + row_h / 2
        color = PALETTE[i % len(PALETTE)]
        x_lo, x_q1, x_med, x_q3, x_hi = (axis.x(float(box[k])) for k in ("lo", "q1", "median", "q3", "hi"))
        tip = f"{label}: median {box['median']:.0f} ns, IQR {box['q1']:.0f}-{box['q3']:.0f} ns"
        body += [
            _row_label(cy, label),
            f"<g><title>{escape(tip)}</title>",
            f'<line x1="{x_lo:.1f}" y1="{cy}" x2="{x_hi:.1f}" y2="{cy}" stroke="{color}"/>',
            f'<line x1="{x_lo:.1f}" y1="{cy - 6}" x2="{x_lo:.1f}" y2="{cy + 6}" stroke="{color}"/>',
            f'<line x1="{x_hi:.1f}" y1="{cy - 6}" x2="{x_hi:.1f}" y2="{cy + 6}" stroke="{color}"/>',
            f'<rect x="{x_q1:.1f}" y="{cy - 9}" width="{max(x_q3 - x_q1, 1):.1f}" height="18" '
            f'fill="{color}" fill-opacity="0.25" stroke="{color}"/>',
            f'<line x1="{x_med:.1f}" y1="{cy - 9}" x2="{x_med:.1f}" y2="{cy + 9}" stroke="{color}" stroke-width="2"/>',
            "</g>",
        ]
    body += axis.render(_TOP + row_h * len(rows))
    return _frame(width, height, title, body)


def cdf_plot(lines: Sequence[tuple[str, Sequence[float]]], *, title: str, width: int = 640, height: int = 300) -> str:
    """Empirical CDFs, one line per series; each series is its quantiles at evenly spaced probabilities 0..1."""
    series = [(label, [float(v) for v in values]) for label, values in lines if len(values) >= 2]
    if not series:
        raise ValueError("cdf_plot needs at least one series with two or more quantiles")
    lo = min(v[0] for _, v in series)
    hi = max(v[-1] for _, v in series)
    axis = _Axis(lo, hi, width)
    legend_h = 18 * len(series)
    plot_top, plot_bottom = _TOP + legend_h, height + legend_h - _AXIS
    total_h = height + legend_h

    def y(p: float) -> float:
        return plot_bottom - p * (plot_bottom - plot_top)

    body = axis.grid(plot_top, plot_bottom)
    for p in (0.0, 0.5, 0.9, 1.0):
        body.append(f'<line x1="{_LEFT}" y1="{y(p):.1f}" x2="{width - _RIGHT}" y2="{y(p):.1f}" stroke="#e5e5e5"/>')
        body.append(f'<text x="{_LEFT - 6}" y="{y(p) + 4:.1f}" text-anchor="end" {_FONT}>{p:g}</text>')
    for i, (label, values) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        step = 1.0 / (len(values) - 1)
        points = " ".join(f"{axis.x(v):.1f},{y(k * step):.1f}" for k, v in enumerate(values))
        body.append(
            f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2">'
            f"<title>{escape(label)}</title></polyline>"
        )
        ly = _TOP + 18 * i
        body.append(f'<line x1="{_LEFT}" y1="{ly}" x2="{_LEFT + 24}" y2="{ly}" stroke="{color}" stroke-width="3"/>')
        body.append(f'<text x="{_LEFT + 30}" y="{ly + 4}" {_FONT}>{escape(label)}</text>')
    body += axis.render(plot_bottom)
    return _frame(width, total_h, title, body)


def ci_plot(
    points: Sequence[tuple[str, float, float, float]],
    *,
    title: str,
    reference: float | None = None,
    latency: bool = True,
    width: int = 640,
) -> str:
    """A point with confidence whiskers per row: (label, value, lo, hi). `reference` draws a dashed line
    (e.g. ratio 1.0); `latency=False` keeps raw numbers on the axis (ratios)."""
    if not points:
        raise ValueError("ci_plot needs at least one point")
    row_h = 24
    height = _TOP + row_h * len(points) + _AXIS
    values = [v for _, value, lo, hi in points for v in (value, lo, hi)]
    if reference is not None:
        values.append(reference)
    axis = _Axis(min(values), max(values), width, latency=latency)
    bottom = _TOP + row_h * len(points)
    body = axis.grid(_TOP, bottom)
    if reference is not None:
        rx = axis.x(reference)
        body.append(
            f'<line x1="{rx:.1f}" y1="{_TOP}" x2="{rx:.1f}" y2="{bottom}" stroke="#888" stroke-dasharray="4 3"/>'
        )
    for i, (label, value, lo, hi) in enumerate(points):
        cy = _TOP + row_h * i + row_h / 2
        color = PALETTE[i % len(PALETTE)]
        tip = f"{label}: {value:.4g} [{lo:.4g}, {hi:.4g}]"
        x_lo, x_hi = axis.x(lo), axis.x(hi)
        body += [
            _row_label(cy, label),
            f"<g><title>{escape(tip)}</title>",
            f'<line x1="{x_lo:.1f}" y1="{cy}" x2="{x_hi:.1f}" y2="{cy}" stroke="{color}" stroke-width="2"/>',
            f'<line x1="{x_lo:.1f}" y1="{cy - 5}" x2="{x_lo:.1f}" y2="{cy + 5}" stroke="{color}"/>',
            f'<line x1="{x_hi:.1f}" y1="{cy - 5}" x2="{x_hi:.1f}" y2="{cy + 5}" stroke="{color}"/>',
            f'<circle cx="{axis.x(value):.1f}" cy="{cy}" r="4" fill="{color}"/>',
            "</g>",
        ]
    body += axis.render(bottom)
    return _frame(width, height, title, body)


def line_plot(
    lines: Sequence[tuple[str, Sequence[tuple[float, float]]]],
    *,
    title: str,
    x_label: str,
    width: int = 640,
    height: int = 320,
) -> str:
    """One line per series through its (x, y) points, y a latency in ns; x on a plain linear axis (e.g. a delay in
    ms), both axes from their smallest to their largest value."""
    series = [(label, sorted((float(x), float(y)) for x, y in points)) for label, points in lines if points]
    if not series:
        raise ValueError("line_plot needs at least one series with a point")
    xs = [x for _, points in series for x, _ in points]
    ys = [y for _, points in series for _, y in points]
    y_ticks = nice_ticks(0.0, max(ys))
    divisor, unit = unit_for(y_ticks[-1])
    x_axis = _Axis(min(xs), max(xs), width, latency=False)
    legend_h = 18 * len(series)
    plot_top, plot_bottom = _TOP + legend_h, height + legend_h - _AXIS - 14
    total_h = height + legend_h

    def y(value: float) -> float:
        return plot_bottom - value / (y_ticks[-1] or 1.0) * (plot_bottom - plot_top)

    body = x_axis.grid(plot_top, plot_bottom)
    for tick in y_ticks:
        body.append(
            f'<line x1="{_LEFT}" y1="{y(tick):.1f}" x2="{width - _RIGHT}" y2="{y(tick):.1f}" stroke="#e5e5e5"/>'
        )
        tick_label = escape(f"{tick / divisor:g}")
        body.append(f'<text x="{_LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" {_FONT}>{tick_label}</text>')
    body.append(f'<text x="{_LEFT - 6}" y="{plot_top - 8}" text-anchor="end" {_FONT}>{escape(unit)}</text>')
    for i, (label, points) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{x_axis.x(px):.1f},{y(py):.1f}" for px, py in points)
        body.append(
            f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2">'
            f"<title>{escape(label)}</title></polyline>"
        )
        for px, py in points:
            tip = f"{label}: {py / divisor:.3g} {unit} at {px:g}"
            body.append(
                f'<circle cx="{x_axis.x(px):.1f}" cy="{y(py):.1f}" r="3" fill="{color}">'
                f"<title>{escape(tip)}</title></circle>"
            )
        ly = _TOP + 18 * i
        body.append(f'<line x1="{_LEFT}" y1="{ly}" x2="{_LEFT + 24}" y2="{ly}" stroke="{color}" stroke-width="3"/>')
        body.append(f'<text x="{_LEFT + 30}" y="{ly + 4}" {_FONT}>{escape(label)}</text>')
    body += x_axis.render(plot_bottom)
    middle = (_LEFT + width - _RIGHT) / 2
    body.append(f'<text x="{middle:.0f}" y="{plot_bottom + 30}" text-anchor="middle" {_FONT}>{escape(x_label)}</text>')
    return _frame(width, total_h, title, body)
