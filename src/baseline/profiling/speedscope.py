"""Folded stacks -> speedscope JSON ("sampled" profile), openable at https://www.speedscope.app offline too."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from baseline.profiling.folded import normalize, split_frame

__all__ = ["HOW_TO_OPEN", "SCHEMA_URL", "to_speedscope"]

SCHEMA_URL = "https://www.speedscope.app/file-format-schema.json"
#: Said wherever a speedscope file is linked (speedscope's README: the web app reads the file in the browser).
HOW_TO_OPEN = (
    "open it in speedscope: drop the file on https://www.speedscope.app (read in the browser, not uploaded), "
    "or offline: npm install -g speedscope, then speedscope FILE"
)
_FILE_LINE = re.compile(r"^(?P<file>.*):(?P<line>\d+)$")


def _frame_record(frame: str) -> dict[str, Any]:
    name, location = split_frame(frame)
    record: dict[str, Any] = {"name": name}
    if location:
        m = _FILE_LINE.match(location)
        if m:
            record["file"] = m.group("file")
            record["line"] = int(m.group("line"))
        else:
            record["file"] = location
    return record


def to_speedscope(stacks: Mapping[str, int], *, name: str, keep_line_numbers: bool = True) -> dict[str, Any]:
    """One sampled profile; each distinct stack is one sample (root first) weighted by its count.

    Stacks are normalised (`folded.normalize`: PIDs and passwords out of process frames); line numbers stay
    unless `keep_line_numbers` is False.
    """
    frame_index: dict[str, int] = {}
    frames: list[dict[str, Any]] = []
    samples: list[list[int]] = []
    weights: list[int] = []
    for stack, count in sorted(normalize(stacks, keep_line_numbers=keep_line_numbers).items()):
        if count <= 0:
            continue
        indices = []
        for frame in stack.split(";"):
            idx = frame_index.get(frame)
            if idx is None:
                idx = frame_index[frame] = len(frames)
                frames.append(_frame_record(frame))
            indices.append(idx)
        samples.append(indices)
        weights.append(int(count))
    total = sum(weights)
    return {
        "$schema": SCHEMA_URL,
        "shared": {"frames": frames},
        "profiles": [
            {
                "type": "sampled",
                "name": name,
                "unit": "none",
                "startValue": 0,
                "endValue": total,
                "samples": samples,
                "weights": weights,
            }
        ],
        "name": name,
        "activeProfileIndex": 0,
        "exporter": "tasker-baseline",
    }
