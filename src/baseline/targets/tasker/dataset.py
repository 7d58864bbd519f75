"""Deterministic tasker dataset: a pure plan of rows from (scale, seed), loaded with COPY.

The plan is a pure function so the same seed and scale always give identical content (uuids come from the
seeded RNG, timestamps from a fixed epoch), which is what lets every run start from the same state.
The state mix mirrors a live system: finished tasks beside in-flight, waiting, retrying and failed ones.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from baseline.targets.contract import TargetError
from baseline.targets.tasker.workload import WORKFLOWS, WorkflowSpec

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

# Mostly linear and diamond, so the average is ~4.3 steps per task (5,000 tasks ~ 21,000 steps).
WORKFLOW_MIX: dict[str, float] = {"linear": 0.48, "diamond": 0.44, "complex_dag": 0.04, "hierarchical_tree": 0.04}

# Mostly finished work, as in a live system. Only ~9% of tasks are actionable by the engine (pending, ready
# waiting_for_dependencies, retries whose backoff elapsed): enough candidates for get_next_ready_tasks(100) at
# full scale, yet a running orchestrator works them off in a few seconds (the benches wait for that: settle).
STATE_MIX: dict[str, float] = {
    "complete": 0.55,
    "steps_in_process": 0.12,
    "pending": 0.03,
    "waiting_for_dependencies": 0.08,
    "waiting_for_retry": 0.10,
    "blocked_by_failures": 0.07,
    "error": 0.05,
}

TASK_PATH = ["pending", "initializing", "enqueuing_steps", "steps_in_process", "evaluating_results"]
STEP_PATHS: dict[str, list[str]] = {
    "pending": ["pending"],
    "enqueued": ["pending", "enqueued"],
    "in_progress": ["pending", "enqueued", "in_progress"],
    "complete": ["pending", "enqueued", "in_progress", "enqueued_for_orchestration", "complete"],
    "waiting_for_retry": [
        "pending",
        "enqueued",
        "in_progress",
        "enqueued_as_error_for_orchestration",
        "waiting_for_retry",
    ],
    "error": ["pending", "enqueued", "in_progress", "enqueued_as_error_for_orchestration", "error"],
}
FAR_FUTURE_BACKOFF_S = 10**9  # a backoff that has not elapsed yet, whatever day the run happens on

TASK_COLUMNS = (
    "task_uuid, named_task_uuid, complete, requested_at, initiator, source_system, reason, tags, context, "
    "priority, correlation_id, created_at, updated_at"
)
STEP_COLUMNS = (
    "workflow_step_uuid, task_uuid, named_step_uuid, retryable, max_attempts, attempts, last_attempted_at, "
    "backoff_request_seconds, in_process, processed, processed_at, inputs, results, created_at, updated_at"
)
EDGE_COLUMNS = "from_step_uuid, to_step_uuid, name, created_at"
TASK_TRANSITION_COLUMNS = (
    "task_transition_uuid, task_uuid, from_state, to_state, sort_key, most_recent, metadata, created_at"
)
STEP_TRANSITION_COLUMNS = (
    "workflow_step_transition_uuid, workflow_step_uuid, from_state, to_state, sort_key, most_recent, metadata, "
    "created_at"
)


@dataclass
class DatasetPlan:
    """Rows keyed by workflow key / step name; the loader maps those to the named_* uuids the engine registered."""

    tasks: list[tuple[Any, ...]] = field(default_factory=list)
    steps: list[tuple[Any, ...]] = field(default_factory=list)
    edges: list[tuple[Any, ...]] = field(default_factory=list)
    task_transitions: list[tuple[Any, ...]] = field(default_factory=list)
    step_transitions: list[tuple[Any, ...]] = field(default_factory=list)
    task_states: Counter[str] = field(default_factory=Counter)
    step_states: Counter[str] = field(default_factory=Counter)
    workflows: Counter[str] = field(default_factory=Counter)

    def counts(self) -> dict[str, Any]:
        return {
            "tasks": len(self.tasks),
            "steps": len(self.steps),
            "edges": len(self.edges),
            "task_transitions": len(self.task_transitions),
            "step_transitions": len(self.step_transitions),
            "task_states": dict(sorted(self.task_states.items())),
            "step_states": dict(sorted(self.step_states.items())),
            "workflows": dict(sorted(self.workflows.items())),
        }


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _transition_rows(
    rng: random.Random, owner: uuid.UUID, path: list[str], start: datetime, spacing: timedelta
) -> list[tuple[Any, ...]]:
    """Transition rows of a task or step that went through `path`; the last one is most_recent."""
    return [
        (_uuid(rng), owner, path[k - 1] if k else None, to_state, k, k == len(path) - 1, "{}", start + spacing * k)
        for k, to_state in enumerate(path)
    ]


def _json(value: Any) -> str:
    # stdlib json, not orjson: results exceed 64-bit integers (6^32) and must stay exact JSON numbers.
    return json.dumps(value, separators=(",", ":"))


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _step_states(spec: WorkflowSpec, task_state: str, rng: random.Random) -> dict[str, str]:
    """Assign step states consistent with the task state: a complete prefix in topological order, then a frontier."""
    names = spec.step_names
    n = len(names)
    if task_state == "complete":
        return dict.fromkeys(names, "complete")
    if task_state == "pending":
        return dict.fromkeys(names, "pending")
    done = rng.randint(1 if task_state == "waiting_for_dependencies" else 0, n - 1)
    complete = set(names[:done])
    states = {name: ("complete" if name in complete else "pending") for name in names}
    frontier = [s for s in names[done:] if all(p in complete for p in spec.parents(s))]
    if task_state == "steps_in_process":
        for s in frontier:
            states[s] = rng.choice(["enqueued", "in_progress"])
    elif task_state == "waiting_for_dependencies":
        # Half are ready to run again (what get_next_ready_tasks finds); half still wait on a running step.
        if rng.random() < 0.5:
            states[frontier[0]] = "in_progress"
    elif task_state == "waiting_for_retry":
        states[frontier[0]] = "waiting_for_retry"
    elif task_state in ("blocked_by_failures", "error"):
        states[frontier[0]] = "error"
    return states


def plan_dataset(scale: int, seed: int) -> DatasetPlan:
    """The rows for `scale` tasks; a pure function of (scale, seed)."""
    if scale < 1:
        raise ValueError(f"dataset scale must be a positive number of tasks (got {scale})")
    rng = random.Random(seed)
    plan = DatasetPlan()
    for i in range(scale):
        key = _pick(rng, WORKFLOW_MIX)
        spec = WORKFLOWS[key]
        task_state = _pick(rng, STATE_MIX)
        even = rng.choice([2, 4, 6, 8, 10])
        expected = spec.expected_results(even)
        created = EPOCH - timedelta(seconds=(scale - i) * 7 + rng.randint(0, 6))
        task_uuid = _uuid(rng)
        plan.workflows[key] += 1
        plan.task_states[task_state] += 1
        plan.tasks.append(
            (
                task_uuid,
                key,
                task_state == "complete",
                created,
                "baseline-dataset",
                rng.choice(["web", "batch", "api"]),
                "seeded dataset",
                _json([key]),
                _json({"even_number": even}),
                rng.choice([0, 0, 0, 1, 2, 5]),
                f"ds-{seed}-{i}",
                created,
                created,
            )
        )
        path = TASK_PATH[: 1 if task_state == "pending" else len(TASK_PATH)]
        if task_state not in ("pending", "steps_in_process"):
            path = [*path, task_state]
        elif task_state == "steps_in_process":
            path = TASK_PATH[:4]
        plan.task_transitions += _transition_rows(rng, task_uuid, path, created, timedelta(milliseconds=5))

        states = _step_states(spec, task_state, rng)
        step_uuids: dict[str, uuid.UUID] = {}
        for name, parents in spec.steps:
            step_uuid = _uuid(rng)
            step_uuids[name] = step_uuid
            state = states[name]
            plan.step_states[state] += 1
            attempts, last_attempt, backoff, results = 0, None, None, None
            max_attempts, retryable = 3, True
            t = created + timedelta(milliseconds=20 * (spec.step_names.index(name) + 1))
            if state == "complete":
                attempts, last_attempt, results = 1, t, _json(expected[name])
            elif state == "in_progress":
                attempts, last_attempt = 1, t
            elif state == "waiting_for_retry":
                attempts = rng.choice([1, 1, 2, 3])  # 3 of 3: exhausted, never retry-eligible again
                last_attempt = t
                backoff = rng.choice([None, 5, FAR_FUTURE_BACKOFF_S, FAR_FUTURE_BACKOFF_S, FAR_FUTURE_BACKOFF_S])
                results = _json({"error": "simulated handler failure", "attempt": attempts})
            elif state == "error":
                attempts = max_attempts
                retryable = rng.random() < 0.7
                last_attempt, results = t, _json({"error": "simulated permanent failure"})
            plan.steps.append(
                (
                    step_uuid,
                    task_uuid,
                    name,
                    retryable,
                    max_attempts,
                    attempts,
                    last_attempt,
                    backoff,
                    state == "in_progress",
                    state == "complete",
                    t if state == "complete" else None,
                    _json({"even_number": even}) if not parents else None,
                    results,
                    created,
                    t,
                )
            )
            for parent in parents:
                plan.edges.append((step_uuids[parent], step_uuid, "provides", created))
            plan.step_transitions += _transition_rows(
                rng, step_uuid, STEP_PATHS[state], created, timedelta(milliseconds=1)
            )
    return plan


def _registered_names(conn: psycopg.Connection) -> tuple[dict[str, uuid.UUID], dict[str, uuid.UUID]]:
    """named_task uuid per workflow key and named_step uuid per step name, as `tasker migrate` registered them."""
    rows = conn.execute(
        "SELECT ns.name, nt.name, nt.version, nt.named_task_uuid FROM named_tasks nt "
        "JOIN task_namespaces ns USING (task_namespace_uuid)"
    ).fetchall()
    by_triple = {(ns, name, version): u for ns, name, version, u in rows}
    tasks: dict[str, uuid.UUID] = {}
    for key, spec in WORKFLOWS.items():
        found = by_triple.get((spec.namespace, spec.name, spec.version))
        if found is None:
            raise TargetError(
                f"template {spec.namespace}/{spec.name} v{spec.version} is not registered in named_tasks; "
                "run `tasker migrate --dsn ...` on this database first"
            )
        tasks[key] = found
    step_rows: dict[str, uuid.UUID] = dict(conn.execute("SELECT name, named_step_uuid FROM named_steps").fetchall())
    wanted = {name for spec in WORKFLOWS.values() for name in spec.step_names}
    missing = sorted(wanted - set(step_rows))
    if missing:
        raise TargetError(
            f"named_steps lacks {missing}; the harness's workflow definitions (baseline.targets.tasker.workload) "
            f"and the engine's templates disagree (registered: {sorted(step_rows)})"
        )
    return tasks, {name: step_rows[name] for name in wanted}


def _copy(cur: psycopg.Cursor, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def load_dataset(dsn: str, scale: int, seed: int) -> dict[str, Any]:
    """Fill a freshly migrated database with the plan for (scale, seed); returns the counts loaded."""
    plan = plan_dataset(scale, seed)
    with psycopg.connect(dsn) as conn:
        existing = conn.execute("SELECT count(*) FROM tasks").fetchone()
        if existing and existing[0]:
            raise TargetError(f"database already holds {existing[0]} tasks; load the dataset into a fresh one")
        named_tasks, named_steps = _registered_names(conn)
        tasks = [(row[0], named_tasks[row[1]], *row[2:]) for row in plan.tasks]
        steps = [(row[0], row[1], named_steps[row[2]], *row[3:]) for row in plan.steps]
        with conn.cursor() as cur:
            _copy(cur, "tasks", TASK_COLUMNS, tasks)
            _copy(cur, "workflow_steps", STEP_COLUMNS, steps)
            _copy(cur, "workflow_step_edges", EDGE_COLUMNS, plan.edges)
            _copy(cur, "task_transitions", TASK_TRANSITION_COLUMNS, plan.task_transitions)
            _copy(cur, "workflow_step_transitions", STEP_TRANSITION_COLUMNS, plan.step_transitions)
    return {"scale": scale, "seed": seed, **plan.counts()}
