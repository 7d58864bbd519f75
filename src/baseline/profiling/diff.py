"""Profile diff: per-frame share change between two folded profiles, with a noise test.

Each frame's inclusive share (samples whose stack contains it / all samples) and self share (samples where it is
the innermost frame) are compared with a two-proportion z-test. New hot paths are judged on self shares: a new
wrapper, a renamed main loop or a generic library frame on every stack (psycopg's cursor generators) grows the
inclusive share of a frame that does no work of its own, so only a frame that itself takes the time is one.
Samples of a sampling profiler are autocorrelated, so treat p-values as a screen, not a proof.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from baseline.profiling.folded import normalize
from baseline.profiling.hotpaths import FrameFacts, is_idle_stack

__all__ = ["diff_profiles", "inclusive_counts", "self_counts", "two_proportion_z"]


def inclusive_counts(stacks: Mapping[str, int]) -> tuple[dict[str, int], int, set[str]]:
    """({frame: samples with the frame on the stack}, total samples, frames seen only in idle stacks)."""
    counts: dict[str, int] = {}
    busy: set[str] = set()
    total = 0
    facts = FrameFacts()
    for stack, count in normalize(stacks).items():
        if count <= 0:
            continue
        total += count
        frames = stack.split(";")
        idle = is_idle_stack(frames, facts=facts)
        for frame in set(frames):
            counts[frame] = counts.get(frame, 0) + count
            if not idle:
                busy.add(frame)
    return counts, total, set(counts) - busy


def self_counts(stacks: Mapping[str, int]) -> tuple[dict[str, int], int]:
    """({frame: samples with the frame innermost}, total samples)."""
    counts: dict[str, int] = {}
    total = 0
    for stack, count in normalize(stacks).items():
        if count <= 0:
            continue
        total += count
        leaf = stack.rsplit(";", 1)[-1]
        counts[leaf] = counts.get(leaf, 0) + count
    return counts, total


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """Pooled two-proportion z statistic (positive when x2/n2 > x1/n1) and its two-sided p-value."""
    if n1 <= 0 or n2 <= 0:
        raise ValueError("both profiles need at least one sample")
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
    if se == 0.0:
        return 0.0, 1.0
    z = (p2 - p1) / se
    return z, math.erfc(abs(z) / math.sqrt(2.0))


def diff_profiles(
    base: Mapping[str, int],
    head: Mapping[str, int],
    *,
    alpha: float = 0.05,
    min_share: float = 0.005,
    threshold: float = 0.05,
) -> dict[str, Any]:
    """Compare two profiles frame by frame.

    - `frames`: frames at or above `min_share` (inclusive) in either profile, biggest absolute change first, each
      with base/head samples and shares, `delta` (head - base share), `z`, `p_value`, `significant` (p < alpha),
      and the same for the frame's self samples (`base_self_share`, `head_self_share`, `self_delta`, `self_z`,
      `self_p_value`).
    - `new_frames` / `removed_frames`: absent from one side, at or above `min_share` on the other.
    - `new_hot_paths`: frames whose head self share reaches `threshold` while the base self share is below it, the
      growth is significant, and the frame is not only ever seen waiting idle.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be within (0, 1), got {alpha!r}")
    if not 0.0 <= min_share < 1.0:
        raise ValueError(f"min_share must be within [0, 1), got {min_share!r}")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be a share in (0, 1], got {threshold!r}")
    base_counts, base_total, _ = inclusive_counts(base)
    head_counts, head_total, head_idle = inclusive_counts(head)
    base_self, _ = self_counts(base)
    head_self, _ = self_counts(head)
    if base_total == 0:
        raise ValueError("the base profile has no samples")
    if head_total == 0:
        raise ValueError("the head profile has no samples")
    rows: list[dict[str, Any]] = []
    new_frames: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    hot: list[dict[str, Any]] = []
    for frame in sorted(set(base_counts) | set(head_counts)):
        b, h = base_counts.get(frame, 0), head_counts.get(frame, 0)
        bs, hs = b / base_total, h / head_total
        if max(bs, hs) < min_share:
            continue
        z, p = two_proportion_z(b, base_total, h, head_total)
        sb, sh = base_self.get(frame, 0), head_self.get(frame, 0)
        self_z, self_p = two_proportion_z(sb, base_total, sh, head_total)
        row = {
            "frame": frame,
            "base_samples": b,
            "head_samples": h,
            "base_share": bs,
            "head_share": hs,
            "delta": hs - bs,
            "z": z,
            "p_value": p,
            "significant": p < alpha,
            "base_self_share": sb / base_total,
            "head_self_share": sh / head_total,
            "self_delta": (sh / head_total) - (sb / base_total),
            "self_z": self_z,
            "self_p_value": self_p,
        }
        rows.append(row)
        if b == 0:
            new_frames.append(row)
        if h == 0:
            removed.append(row)
        idle_only = frame in head_idle
        self_bs, self_hs = sb / base_total, sh / head_total
        if self_hs >= threshold and self_bs < threshold and self_p < alpha and self_z > 0 and not idle_only:
            hot.append(row)
    rows.sort(key=lambda r: (-abs(r["delta"]), r["frame"]))
    for group in (new_frames, removed):
        group.sort(key=lambda r: (-abs(r["delta"]), r["frame"]))
    hot.sort(key=lambda r: (-r["self_delta"], r["frame"]))
    return {
        "base_total": base_total,
        "head_total": head_total,
        "alpha": alpha,
        "min_share": min_share,
        "threshold": threshold,
        "frames": rows,
        "new_frames": new_frames,
        "removed_frames": removed,
        "new_hot_paths": hot,
    }
