"""Human units for nanosecond latencies, shared by every renderer so tables and plots agree."""

from __future__ import annotations

import math

_SCALES = ((1e9, "s"), (1e6, "ms"), (1e3, "µs"), (1.0, "ns"))


def unit_for(max_ns: float) -> tuple[float, str]:
    """The divisor and unit name that keep the largest value of a set readable (e.g. 12.5 ms, not 12500000 ns)."""
    for divisor, name in _SCALES:
        if abs(max_ns) >= divisor:
            return divisor, name
    return 1.0, "ns"


def fmt_ns(value: float | None) -> str:
    """One latency with four significant digits in its own unit; '-' when absent."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    divisor, name = unit_for(value)
    return f"{value / divisor:.4g} {name}"


def fmt_ratio(value: float | None) -> str:
    """A head/base ratio as a signed percentage change (1.3 -> +30.0%)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{(value - 1.0) * 100:+.1f}%"


def fmt_pct(share: float | None) -> str:
    """A share in [0, 1] as a percentage."""
    if share is None:
        return "-"
    return f"{share * 100:.1f}%"
