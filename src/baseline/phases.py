"""The one list of phases: what each is called as a result file, a `baseline` command and a nox session.

Config (sample counts), the CLI, the pipeline plan, the manifest, the summary and the audit all read this list,
so a phase is added or renamed here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Phase:
    """One phase of a run. `name` is the result file stem (run-N/<name>.json) and the manifest key."""

    name: str
    command: str
    session: str
    title: str
    bench: str | None = None  # "module:function" of a bench; None for the lifecycle profile

    @property
    def is_bench(self) -> bool:
        return self.bench is not None


SQL = Phase(
    name="sql", command="sql-bench", session="sql_bench", title="SQL functions", bench="baseline.benches.sql:run_sql"
)
EVENT = Phase(
    name="event",
    command="event-bench",
    session="event_bench",
    title="LISTEN/NOTIFY propagation",
    bench="baseline.benches.event:run_event",
)
TASK_INIT = Phase(
    name="task_init",
    command="task-init-bench",
    session="task_init_bench",
    title="task initialization (API)",
    bench="baseline.benches.task_init:run_task_init",
)
E2E = Phase(
    name="e2e",
    command="e2e-bench",
    session="e2e_bench",
    title="end-to-end workflows",
    bench="baseline.benches.e2e:run_e2e",
)
LIFECYCLE = Phase(
    name="lifecycle", command="lifecycle-profile", session="lifecycle_profile", title="lifecycle-test profile"
)

#: Benches in the order a run takes them; each writes run-N/<name>.json.
BENCHES: tuple[Phase, ...] = (SQL, EVENT, TASK_INIT, E2E)
#: Every phase of a baseline run, in order.
RUN_PHASES: tuple[Phase, ...] = (*BENCHES, LIFECYCLE)
BENCH_NAMES: tuple[str, ...] = tuple(p.name for p in BENCHES)


def by_name(name: str) -> Phase:
    for phase in RUN_PHASES:
        if phase.name == name:
            return phase
    raise KeyError(name)


def by_command(command: str) -> Phase:
    for phase in RUN_PHASES:
        if phase.command == command:
            return phase
    raise KeyError(command)
