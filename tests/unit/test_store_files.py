"""Result files: shape, validation errors that name the file, atomic replacement, secret refusal, manifest."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from baseline.config import Config, load_config
from baseline.errors import Failure
from baseline.redaction import find_secret, redact_secrets
from baseline.results import StoreError, read_json, read_manifest, read_result, run_dirs
from baseline.store import update_manifest, write_json_atomic, write_result


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config({"label": "pre", "run": 2}, environ={}, cwd=tmp_path)


def _case(case_id: str = "sql/x/batch_size=1") -> dict:
    return {"id": case_id, "unit": "ns", "samples": [1, 2, 3], "summary": {"n": 3}, "meta": {}}


def test_write_result_shape_and_roundtrip(config: Config) -> None:
    env = {"machine": {"cpu_count": 2}}
    path = write_result(config, "sql", [_case()], environment=env, flags=["checkpoint_in_window"], extra={"k": 1})
    assert path == config.output_dir / "pre" / "run-2" / "sql.json"
    data = read_result(path)
    assert (data["schema_version"], data["phase"], data["label"], data["run"]) == (1, "sql", "pre", 2)
    assert data["flags"] == ["checkpoint_in_window"]
    assert data["cases"][0]["samples"] == [1, 2, 3]
    assert data["extra"] == {"k": 1}
    assert data["started_at"] and data["finished_at"]
    assert not list(path.parent.glob("*.tmp")), "no temp file may be left behind"


def test_write_result_rejects_malformed_cases(config: Config) -> None:
    with pytest.raises(StoreError, match=r"case 0 \(a\) lacks summary"):
        write_result(config, "sql", [{"id": "a", "unit": "ns", "samples": []}], environment={})


@pytest.mark.parametrize(
    "secret",
    [
        {"dsn": "postgresql://bob:hunter2@db/app"},
        {"nested": ["host=db password=hunter2 dbname=app"]},
        {"conn": {"password": "hunter2"}},
    ],
)
def test_password_is_refused_and_old_file_kept(config: Config, secret: dict) -> None:
    path = write_result(config, "sql", [_case()], environment={"ok": True})
    before = path.read_bytes()
    with pytest.raises(Failure, match="looks like a password"):
        write_result(config, "sql", [_case()], environment=secret)
    assert path.read_bytes() == before


def test_secret_detection_and_redaction() -> None:
    assert find_secret("postgresql://u@h:5/db http://127.0.0.1:8000/x") is None
    assert find_secret("postgresql://u:pw@h/db") is not None
    assert "pw" not in redact_secrets("connect postgresql://u:pw@h/db password=pw failed")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "expected a JSON object"),
        ('{"schema_version": 1, "phase": "sql"}', "missing required key(s) label, run, environment, cases"),
        (
            '{"schema_version": 2, "phase": "sql", "label": "l", "run": 1, "environment": {}, "cases": []}',
            "schema_version 2 is not supported",
        ),
        (
            '{"schema_version": 1, "phase": "sql", "label": "l", "run": 1, "environment": {}, "cases": [{"id": "x"}]}',
            "case 0 (x) lacks unit, samples, summary",
        ),
    ],
)
def test_read_result_errors_name_file_and_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "sql.json"
    path.write_text(content)
    with pytest.raises(StoreError) as excinfo:
        read_result(path)
    assert str(path) in str(excinfo.value)
    assert message in str(excinfo.value)


@pytest.mark.parametrize("bad", [None, -1, "12", True])
def test_samples_that_are_not_non_negative_numbers_are_bad_input_naming_the_file(
    tmp_path: Path, config: Config, bad: object
) -> None:
    path = write_result(config, "sql", [_case()], environment={})
    data = json.loads(path.read_text())
    data["cases"][0]["samples"][1] = bad
    path.write_text(json.dumps(data))
    with pytest.raises(StoreError, match=r"sql\.json: case sql/x/batch_size=1: sample 1 is") as excinfo:
        read_result(path)
    assert "non-negative" in str(excinfo.value)


def test_read_result_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="file not found"):
        read_result(tmp_path / "nope.json")


def test_failed_rename_leaves_old_file_intact(tmp_path: Path) -> None:
    """The rename target being a directory makes os.replace fail after the temp file was fully written."""
    target = tmp_path / "result.json"
    write_json_atomic(target, {"v": 1})
    blocked = tmp_path / "blocked.json"
    blocked.mkdir()
    (blocked / "keep").write_text("x")
    with pytest.raises(
        StoreError, match=r"blocked.json: Is a directory: .*moved.*unchanged"
    ):  # exit 2: the fix is the user's
        write_json_atomic(blocked, {"v": 2})
    assert (blocked / "keep").read_text() == "x"
    assert read_json(target) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_unserialisable_data_is_a_failure_and_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    write_json_atomic(target, {"v": 1})
    with pytest.raises(Failure, match="not JSON-serialisable"):
        write_json_atomic(target, {"v": object()})
    assert json.loads(target.read_text()) == {"v": 1}


def test_manifest_merges_runs_and_phases(config: Config) -> None:
    assert read_manifest(config.label_dir) == {"label": "pre", "runs": {}}
    update_manifest(config, 1, status="incomplete", phases={"sql": "ok"}, started_at="t0")
    update_manifest(config, 1, phases={"event": "ok"})
    update_manifest(config, 2, status="failed", error="postgresql://u:pw@h/db refused")
    manifest = read_manifest(config.label_dir)
    assert manifest["runs"]["1"] == {"status": "incomplete", "phases": {"sql": "ok", "event": "ok"}, "started_at": "t0"}
    assert manifest["runs"]["2"]["status"] == "failed"
    assert "pw" not in manifest["runs"]["2"]["error"]


def test_corrupt_manifest_is_reported(config: Config) -> None:
    config.label_dir.mkdir(parents=True)
    (config.label_dir / "manifest.json").write_text('{"label": "pre"}')
    with pytest.raises(StoreError, match=r"manifest\.json: expected an object with a 'runs' object"):
        read_manifest(config.label_dir)


def test_run_dirs_numeric_order(tmp_path: Path) -> None:
    for name in ("run-10", "run-2", "run-1", "notes", "run-x"):
        (tmp_path / name).mkdir()
    (tmp_path / "run-3").write_text("a file, not a run")
    assert [p.name for p in run_dirs(tmp_path)] == ["run-1", "run-2", "run-10"]
    assert run_dirs(tmp_path / "missing") == []


def test_label_lock_is_reentrant_in_process(config: Config) -> None:
    from baseline.store import label_lock

    with label_lock(config), label_lock(config):
        update_manifest(config, 1, status="complete")
    assert (config.label_dir / ".lock").exists()
    assert os.environ.get("BASELINE_LABEL_LOCK") is None
