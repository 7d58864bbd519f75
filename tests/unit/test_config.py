"""Config precedence (pyproject < env < CLI) and the message of every kind of bad value."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from baseline.config import Config, ConfigError, add_common_options, load_config, redact_dsn


def _project(tmp_path: Path, table: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f"[project]\nname = 'x'\n\n[tool.baseline]\n{table}\n")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    return nested


def _args(*argv: str) -> argparse.Namespace:
    return add_common_options(argparse.ArgumentParser()).parse_args(list(argv))


def test_defaults_without_any_source(tmp_path: Path) -> None:
    config = load_config(None, environ={}, cwd=tmp_path)
    assert (config.target, config.services, config.label, config.run, config.runs) == (
        "tasker",
        "embedded",
        "adhoc",
        1,
        3,
    )
    assert config.samples == {"sql": 500, "event": 1000, "task_init": 300, "e2e": 100}
    assert (config.dataset_scale, config.dataset_seed, config.time_budget_s) == (5000, 42, 30.0)
    assert config.output_dir == tmp_path / "profiles"
    assert config.workdir == tmp_path / ".baseline"
    assert config.run_dir == tmp_path / "profiles" / "adhoc" / "run-1"


def test_quick_mode_shrinks_sizes(tmp_path: Path) -> None:
    config = load_config(_args("--quick"), environ={}, cwd=tmp_path)
    assert config.quick
    assert config.samples == {"sql": 50, "event": 100, "task_init": 50, "e2e": 10}
    assert (config.dataset_scale, config.time_budget_s) == (500, 5.0)
    assert config.warmup < load_config(None, environ={}, cwd=tmp_path).warmup


def test_precedence_pyproject_then_env_then_cli(tmp_path: Path) -> None:
    cwd = _project(tmp_path, 'label = "from-pyproject"\nruns = 5\nworkers = 3\nsamples = { sql = 7 }')
    only_file = load_config(None, environ={}, cwd=cwd)
    assert (only_file.label, only_file.runs, only_file.workers, only_file.samples["sql"]) == ("from-pyproject", 5, 3, 7)
    assert only_file.project_root == tmp_path  # found from CWD upward
    env = {"BASELINE_LABEL": "from-env", "BASELINE_RUNS": "4", "BASELINE_SAMPLES_SQL": "9"}
    with_env = load_config(None, environ=env, cwd=cwd)
    assert (with_env.label, with_env.runs, with_env.workers, with_env.samples["sql"]) == ("from-env", 4, 3, 9)
    with_cli = load_config(_args("--label", "from-cli", "--run", "2"), environ=env, cwd=cwd)
    assert (with_cli.label, with_cli.run, with_cli.runs) == ("from-cli", 2, 4)
    assert with_cli.run_dir == tmp_path / "profiles" / "from-cli" / "run-2"


def test_quick_table_in_pyproject(tmp_path: Path) -> None:
    cwd = _project(
        tmp_path, "dataset_scale = 8000\n\n[tool.baseline.quick]\ndataset_scale = 300\nsamples = { e2e = 3 }"
    )
    assert load_config(None, environ={}, cwd=cwd).dataset_scale == 8000
    quick = load_config(None, environ={"BASELINE_QUICK": "1"}, cwd=cwd)
    assert quick.dataset_scale == 300
    assert quick.samples["e2e"] == 3 and quick.samples["sql"] == 50
    assert load_config(_args("--quick", "--scale", "200"), environ={}, cwd=cwd).dataset_scale == 200


@pytest.mark.parametrize(
    ("table", "env", "argv", "expected"),
    [
        ("colour = 1", {}, [], "[tool.baseline]: unknown key 'colour'; known keys:"),
        ("", {}, ["--run", "x"], "--run: expected an integer >= 1, got 'x'"),
        ("", {}, ["--run", "0"], "--run: expected an integer >= 1, got '0'"),
        ("", {"BASELINE_SERVICES": "foo"}, [], "BASELINE_SERVICES: expected one of embedded, external, compose"),
        ("", {}, ["--label", "a/b"], "--label: expected a folder-safe name"),
        ("", {}, ["--label", "a..b"], "--label: expected a folder-safe name"),
        ("", {}, ["--services", "external"], "services: 'external' needs dsn (--dsn or BASELINE_DSN) and api_url"),
        ("", {}, ["--services", "external", "--dsn", "postgresql://u@h/d"], "needs api_url (--api-url"),
        ("", {}, ["--api-url", "localhost:80"], "--api-url: expected an http(s) URL"),
        ("", {}, ["--dsn", "nonsense"], "--dsn: expected a libpq DSN"),
        ("runs = 'three'", {}, [], "[tool.baseline].runs: expected an integer >= 1, got 'three'"),
        ("samples = { bogus = 1 }", {}, [], "[tool.baseline].samples.bogus: unknown phase; expected one of sql"),
        ("time_budget_s = -1", {}, [], "[tool.baseline].time_budget_s: expected a finite positive number"),
        ("time_budget_s = inf", {}, [], "[tool.baseline].time_budget_s: expected a finite positive number"),
        ("", {}, ["--label", "a b"], "--label: expected a folder-safe name"),
        ("", {"BASELINE_QUICK": "maybe"}, [], "BASELINE_QUICK: expected true/false"),
        ("target = 'two words'", {}, [], "[tool.baseline].target: expected an installed target's name"),
        ("[tool.baseline.quick]\nrun = 2", {}, [], "[tool.baseline.quick]: unknown key 'run'"),
        ("output_dir = '../elsewhere'", {}, [], "output_dir: '../elsewhere' leads outside the project"),
        ("", {"BASELINE_WORKDIR": "sub/../../up"}, [], "workdir: 'sub/../../up' leads outside the project"),
    ],
)
def test_bad_values_name_the_key(
    tmp_path: Path, table: str, env: dict[str, str], argv: list[str], expected: str
) -> None:
    cwd = _project(tmp_path, table)
    with pytest.raises(ConfigError) as excinfo:
        load_config(_args(*argv), environ=env, cwd=cwd)
    assert expected in str(excinfo.value)


def test_external_with_both_values_is_accepted(tmp_path: Path) -> None:
    args = _args("--services", "external", "--dsn", "postgresql://u@h:5/d", "--api-url", "http://h:8/")
    config = load_config(args, environ={}, cwd=tmp_path)
    assert (config.services, config.api_url) == ("external", "http://h:8")


def test_public_strips_passwords_and_is_json_safe(tmp_path: Path) -> None:
    import json

    args = _args("--services", "external", "--dsn", "postgresql://bob:s3cret@db:5432/app", "--api-url", "http://a")
    public = load_config(args, environ={}, cwd=tmp_path).public()
    text = json.dumps(public)
    assert "s3cret" not in text
    assert public["dsn"] == "postgresql://bob@db:5432/app"
    assert public["output_dir"] == str(tmp_path / "profiles")


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("postgresql://u:pw@h:5/db", "postgresql://u@h:5/db"),
        ("postgresql://u@h/db?password=pw&sslmode=require", "postgresql://u@h/db?sslmode=require"),
        ("host=h port=5 user=u password='p w' dbname=d", "postgresql://u@h:5/d"),
        ("postgresql://u@h:5/db", "postgresql://u@h:5/db"),
    ],
)
def test_redact_dsn(dsn: str, expected: str) -> None:
    assert redact_dsn(dsn) == expected


def test_config_is_frozen_and_with_run(tmp_path: Path) -> None:
    config = load_config(None, environ={}, cwd=tmp_path)
    with pytest.raises(AttributeError):
        config.run = 2  # type: ignore[misc]
    assert config.with_run(3).run_dir.name == "run-3"
    assert isinstance(config, Config)
