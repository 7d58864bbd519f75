"""The pipeline's plan: which phase processes each run takes, and the options it refuses."""

from __future__ import annotations

import pytest

from baseline import phases
from baseline.errors import BadInput
from baseline.pipeline.plan import baseline_plan, profile_all_plan
from baseline.pipeline.runner import schedule


def test_every_run_takes_every_bench_then_the_lifecycle_profile() -> None:
    plans = baseline_plan(3)
    assert [p.run for p in plans] == [1, 2, 3]
    for plan in plans:
        assert [s.phase.name for s in plan.steps] == ["sql", "event", "task_init", "e2e", "lifecycle"]
        assert [s.args for s in plan.steps if s.phase is phases.E2E] == [("--profile",)]
        assert all(not s.args for s in plan.steps if s.phase is not phases.E2E)


def test_no_profile_and_only_run() -> None:
    (plan,) = baseline_plan(3, only_run=2, profile=False)
    assert plan.run == 2 and all(not s.args for s in plan.steps)


@pytest.mark.parametrize(
    ("runs", "only_run", "message"),
    [
        (0, None, "--runs 0: give at least 1"),
        (2, 3, r"--only-run 3: must be between 1 and --runs \(2\)"),
        (2, 0, "--only-run 0: must be"),
    ],
)
def test_bad_options_are_bad_input(runs: int, only_run: int | None, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        baseline_plan(runs, only_run=only_run)


def test_profile_all_profiles_the_sql_bench_and_the_services_once() -> None:
    (plan,) = profile_all_plan()
    assert [(s.phase.name, s.args) for s in plan.steps] == [
        ("sql", ("--profile",)),
        ("e2e", ("--profile",)),
        ("lifecycle", ()),
    ]


def test_the_schedule_lists_build_once_then_up_phases_down_per_run() -> None:
    names = [name for _, name in schedule(baseline_plan(2), build=True)]
    per_run = ["up", "sql", "event", "task_init", "e2e", "lifecycle", "down"]
    assert names == ["build", *per_run, *per_run]
    assert [run for run, _ in schedule(baseline_plan(2), build=False)] == [1] * 7 + [2] * 7
