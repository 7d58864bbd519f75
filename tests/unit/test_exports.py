"""Exports: Bencher Metric Format and github-action-benchmark customSmallerIsBetter shapes."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from baseline import store
from baseline.config import Config
from baseline.errors import BadInput
from baseline.exports import export_label, to_bencher, to_github

# The published BMF schema (https://bencher.dev/bmf.json).
BMF_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema",
    "type": "object",
    "patternProperties": {
        ".+": {
            "type": "object",
            "patternProperties": {
                ".+": {
                    "type": "object",
                    "properties": {
                        "value": {"type": "number"},
                        "lower_value": {"type": "number"},
                        "upper_value": {"type": "number"},
                    },
                    "required": ["value"],
                }
            },
        }
    },
}


@pytest.fixture
def label_dir(tmp_path: Path) -> Path:
    for run in (1, 2):
        config = Config(project_root=tmp_path, output_dir=tmp_path, workdir=tmp_path, label="pre", run=run)
        cases = [
            {"id": "sql/q", "unit": "ns", "samples": list(range(100, 201)), "summary": {}, "meta": {}},
            {"id": "e2e/linear", "unit": "ns", "samples": [5_000_000 + 1000 * i for i in range(21)], "summary": {}},
        ]
        store.write_result(config, "sql", cases[:1], environment={})
        store.write_result(config, "e2e", cases[1:], environment={})
    return tmp_path / "pre"


def test_bencher_export_matches_schema_and_values(label_dir: Path) -> None:
    path = export_label(label_dir, "bencher", cv_threshold=0.1)
    assert path == label_dir / "bencher.json"
    data = json.loads(path.read_text())
    jsonschema.validate(data, BMF_SCHEMA)
    assert set(data) == {"sql/q", "e2e/linear"}
    latency = data["sql/q"]["latency"]
    assert latency["value"] == 150.0
    assert latency["lower_value"] <= 150.0 <= latency["upper_value"]
    assert data["e2e/linear"]["latency"]["value"] == 5_010_000.0
    assert (label_dir / "summary.json").exists()  # built on demand


def test_github_export_shape(label_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "gh.json"
    assert export_label(label_dir, "github", cv_threshold=0.1, output=out) == out
    data = json.loads(out.read_text())
    assert isinstance(data, list) and len(data) == 2
    for entry in data:
        assert set(entry) == {"name", "unit", "value", "range", "extra"}
        assert entry["unit"] == "ns" and isinstance(entry["value"], float)
        assert entry["range"].startswith("± ")
    assert data[0]["name"] == "sql/q" and data[0]["value"] == 150.0
    assert "label pre; runs 2; n 202" in data[0]["extra"]


def test_pure_converters_agree() -> None:
    summary = {
        "label": "x",
        "cases": [
            {
                "id": "a",
                "unit": "ns",
                "cv": 0.2,
                "unstable": True,
                "runs": [{}],
                "pooled": {"p50": 10.0, "p50_ci": [8.0, 14.0], "p95": 20.0, "n": 5},
            }
        ],
    }
    assert to_bencher(summary) == {"a": {"latency": {"value": 10.0, "lower_value": 8.0, "upper_value": 14.0}}}
    (entry,) = to_github(summary)
    assert entry["range"] == "± 3" and entry["extra"].endswith("(unstable)")


def test_unknown_format_is_refused(label_dir: Path) -> None:
    with pytest.raises(BadInput, match="bencher, github"):
        export_label(label_dir, "csv", cv_threshold=0.1)
