"""Which phases each run of a pipeline takes, in order: a pure function of the pipeline's options."""

from __future__ import annotations

from dataclasses import dataclass

from baseline import phases
from baseline.errors import BadInput
from baseline.phases import Phase


@dataclass(frozen=True)
class Step:
    """One phase process of a run, with the arguments it takes besides the common options."""

    phase: Phase
    args: tuple[str, ...] = ()
    command: str | None = None  # the `baseline` command to run, when not the phase's own

    @property
    def argv_command(self) -> str:
        return self.command or self.phase.command


@dataclass(frozen=True)
class RunPlan:
    run: int
    steps: tuple[Step, ...]


def baseline_plan(runs: int, *, only_run: int | None = None, profile: bool = True) -> list[RunPlan]:
    """Every bench, then the lifecycle profile, per run; the E2E bench profiles the services unless told not to.

    `only_run` redoes that one run (the others are left as recorded)."""
    if runs < 1:
        raise BadInput(f"--runs {runs}: give at least 1")
    if only_run is not None and not 1 <= only_run <= runs:
        raise BadInput(f"--only-run {only_run}: must be between 1 and --runs ({runs})")
    steps = tuple(Step(phase, ("--profile",) if phase is phases.E2E and profile else ()) for phase in phases.RUN_PHASES)
    numbers = [only_run] if only_run is not None else list(range(1, runs + 1))
    return [RunPlan(run, steps) for run in numbers]


def profile_all_plan() -> list[RunPlan]:
    """One run of every profiling phase: the SQL bench's own process, E2E with every service, the lifecycle tests."""
    return [
        RunPlan(
            1,
            (
                Step(phases.SQL, ("--profile",)),
                Step(phases.E2E, ("--profile",)),
                Step(phases.LIFECYCLE),
            ),
        )
    ]
