"""Speedscope export: the file-format structure, deduplicated frames, weights that add up."""

from __future__ import annotations

import json

import jsonschema

from baseline.profiling.speedscope import SCHEMA_URL, to_speedscope

# The parts of https://www.speedscope.app/file-format-schema.json a sampled profile uses.
SAMPLED_SCHEMA = {
    "type": "object",
    "required": ["$schema", "shared", "profiles"],
    "properties": {
        "$schema": {"const": SCHEMA_URL},
        "shared": {
            "type": "object",
            "required": ["frames"],
            "properties": {
                "frames": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "file": {"type": "string"},
                            "line": {"type": "number"},
                        },
                    },
                }
            },
        },
        "profiles": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "name", "unit", "startValue", "endValue", "samples", "weights"],
                "properties": {
                    "type": {"const": "sampled"},
                    "unit": {"enum": ["none", "nanoseconds", "microseconds", "milliseconds", "seconds", "bytes"]},
                    "samples": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
                    "weights": {"type": "array", "items": {"type": "number"}},
                },
            },
        },
        "name": {"type": "string"},
        "activeProfileIndex": {"type": "number"},
        "exporter": {"type": "string"},
    },
}

STACKS = {
    "<module> (app.py:1);main (app.py:5);work (app.py:9)": 30,
    "<module> (app.py:1);main (app.py:5);idle": 10,
    "<module> (app.py:1);other (lib/x.py)": 5,
}


def test_structure_validates_and_weights_sum_to_total() -> None:
    doc = to_speedscope(STACKS, name="lifecycle")
    jsonschema.validate(json.loads(json.dumps(doc)), SAMPLED_SCHEMA)
    profile = doc["profiles"][0]
    assert profile["name"] == doc["name"] == "lifecycle"
    assert len(profile["samples"]) == len(profile["weights"]) == 3
    assert sum(profile["weights"]) == profile["endValue"] == 45


def test_frames_are_deduplicated_and_samples_run_root_to_leaf() -> None:
    doc = to_speedscope(STACKS, name="p")
    frames = doc["shared"]["frames"]
    assert len(frames) == 5  # <module>, main, work, idle, other
    assert len({json.dumps(f, sort_keys=True) for f in frames}) == 5
    assert {"name": "work", "file": "app.py", "line": 9} in frames
    assert {"name": "other", "file": "lib/x.py"} in frames
    assert {"name": "idle"} in frames
    profile = doc["profiles"][0]
    for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
        names = [frames[i]["name"] for i in stack]
        assert names[0] == "<module>"
        key = ";".join(f"{n}" for n in names)
        assert weight == {"<module>;main;work": 30, "<module>;main;idle": 10, "<module>;other": 5}[key]
