"""What the harness knows of the tasker workload: its four workflows, their expected results, and the SQL cases.

Everything here reaches the engine only through public surfaces: the HTTP request/response shapes and the
public SQL functions and tables (docs/architecture.md). Nothing imports `tasker`.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from baseline.errors import BadInput, Failure
from baseline.httpclient import HttpClient, HttpResponse
from baseline.targets.contract import SqlStatement, TaskVerificationError

COMPLETION_CHANNEL = "tasker_task_completed"
VERSION = "1.0.0"
DEFAULT_CONTEXT = {"even_number": 6}


@dataclass(frozen=True)
class WorkflowSpec:
    """A template as the harness sees it: steps in topological order, each with its parents."""

    key: str
    namespace: str
    name: str
    steps: tuple[tuple[str, tuple[str, ...]], ...]
    version: str = VERSION

    @property
    def step_names(self) -> list[str]:
        return [name for name, _ in self.steps]

    def parents(self, step: str) -> tuple[str, ...]:
        return dict(self.steps)[step]

    def expected_results(self, even_number: int = 6) -> dict[str, int]:
        """Handler rule: a root squares the input, one parent squares its result, several parents multiply."""
        results: dict[str, int] = {}
        for name, parents in self.steps:
            if not parents:
                results[name] = even_number**2
            elif len(parents) == 1:
                results[name] = results[parents[0]] ** 2
            else:
                results[name] = math.prod(results[p] for p in parents)
        return results

    def depth(self, step: str) -> int:
        parents = self.parents(step)
        return 0 if not parents else 1 + max(self.depth(p) for p in parents)


WORKFLOWS: dict[str, WorkflowSpec] = {
    spec.key: spec
    for spec in (
        WorkflowSpec(
            "linear",
            "linear_workflow",
            "mathematical_sequence",
            (
                ("linear_step_1", ()),
                ("linear_step_2", ("linear_step_1",)),
                ("linear_step_3", ("linear_step_2",)),
                ("linear_step_4", ("linear_step_3",)),
            ),
        ),
        WorkflowSpec(
            "diamond",
            "diamond_workflow",
            "diamond_pattern",
            (
                ("diamond_start", ()),
                ("diamond_branch_b", ("diamond_start",)),
                ("diamond_branch_c", ("diamond_start",)),
                ("diamond_end", ("diamond_branch_b", "diamond_branch_c")),
            ),
        ),
        WorkflowSpec(
            "complex_dag",
            "complex_workflow",
            "complex_dag",
            (
                ("init", ()),
                ("left", ("init",)),
                ("right", ("init",)),
                ("validate", ("left", "right")),
                ("transform", ("left",)),
                ("analyze", ("right",)),
                ("finalize", ("validate", "transform", "analyze")),
            ),
        ),
        WorkflowSpec(
            "hierarchical_tree",
            "tree_workflow",
            "hierarchical_tree",
            (
                ("root", ()),
                ("branch_left", ("root",)),
                ("branch_right", ("root",)),
                ("leaf_a", ("branch_left",)),
                ("leaf_b", ("branch_left",)),
                ("leaf_c", ("branch_right",)),
                ("leaf_d", ("branch_right",)),
                ("join", ("leaf_a", "leaf_b", "leaf_c", "leaf_d")),
            ),
        ),
    )
}


def workflow(key: str) -> WorkflowSpec:
    try:
        return WORKFLOWS[key]
    except KeyError:
        raise ValueError(f"unknown workflow {key!r}; known: {', '.join(WORKFLOWS)}") from None


def task_request(workflow_key: str, correlation_id: str, context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The POST /v1/tasks body for one task of a workflow."""
    spec = workflow(workflow_key)
    return {
        "namespace": spec.namespace,
        "name": spec.name,
        "version": spec.version,
        "context": dict(context or DEFAULT_CONTEXT),
        "initiator": "baseline",
        "source_system": "baseline-bench",
        "reason": "benchmark",
        "correlation_id": correlation_id,
    }


def result_value(results: Any) -> Any:
    """A step's result from its stored `results`: a bare JSON number, or an object holding it under "result"."""
    if isinstance(results, dict) and "result" in results:
        return results["result"]
    return results


def verify_task(task: Mapping[str, Any], workflow_key: str, even_number: int = 6) -> None:
    """Check a GET /v1/tasks/{uuid} body: complete, every step complete, exact results; raise naming what differs."""
    spec = workflow(workflow_key)
    task_id = task.get("task_uuid", "?")
    label = f"task {task_id} ({spec.key})"
    if task.get("status") != "complete":
        states = {s.get("name"): s.get("current_state") for s in task.get("steps", [])}
        raise TaskVerificationError(f"{label}: status {task.get('status')!r}, expected 'complete'; steps: {states}")
    steps = {s.get("name"): s for s in task.get("steps", [])}
    expected = spec.expected_results(even_number)
    missing = sorted(set(expected) - set(steps))
    if missing:
        raise TaskVerificationError(f"{label}: steps missing from the response: {missing}; got {sorted(steps)}")
    for name, want in expected.items():
        step = steps[name]
        if step.get("current_state") != "complete":
            raise TaskVerificationError(f"{label}: step {name} is {step.get('current_state')!r}, expected 'complete'")
        got = result_value(step.get("results"))
        if got != want:
            raise TaskVerificationError(f"{label}: step {name} result {got!r}, expected {want}")


# ------------------------------------------------------------------------------------------------ SQL cases

NEXT_READY_BATCH_SIZES = (1, 10, 50, 100)
# Strata for the per-task functions: one task per (workflow, state), so the five samples differ in shape and state.
TASK_STRATA = (
    ("linear", "complete"),
    ("diamond", "steps_in_process"),
    ("complex_dag", "waiting_for_retry"),
    ("hierarchical_tree", "blocked_by_failures"),
    ("diamond", "waiting_for_dependencies"),
)
# Ten steps of depth 0..3 across the workflows, for get_step_transitive_dependencies.
DEPENDENCY_STEPS = (
    ("linear", "linear_step_1"),
    ("linear", "linear_step_2"),
    ("linear", "linear_step_3"),
    ("linear", "linear_step_4"),
    ("diamond", "diamond_end"),
    ("complex_dag", "transform"),
    ("complex_dag", "validate"),
    ("complex_dag", "finalize"),
    ("hierarchical_tree", "leaf_c"),
    ("hierarchical_tree", "join"),
)
# transition_task_state_atomic toggles terminal tasks error <-> resolved_manually: every call is a successful
# compare-and-swap, and no engine process acts on either state while the bench runs.
TRANSITION_STATES = ("error", "resolved_manually")
TRANSITION_SAMPLES = 5
PROCESSOR_UUID = uuid.UUID("00000000-0000-4000-8000-00000000b3c4")
TRANSITION_METADATA = '{"source": "baseline-sql-bench"}'


_TASK_BY_STATE = """
SELECT t.task_uuid FROM tasks t
JOIN named_tasks nt ON nt.named_task_uuid = t.named_task_uuid
JOIN task_namespaces ns ON ns.task_namespace_uuid = nt.task_namespace_uuid
JOIN task_transitions tt ON tt.task_uuid = t.task_uuid AND tt.most_recent
WHERE ns.name = %s AND nt.name = %s AND tt.to_state = ANY(%s)
ORDER BY t.task_uuid LIMIT %s
"""

_STEP_BY_NAME = """
SELECT ws.workflow_step_uuid FROM workflow_steps ws
JOIN named_steps s ON s.named_step_uuid = ws.named_step_uuid
JOIN tasks t ON t.task_uuid = ws.task_uuid
JOIN named_tasks nt ON nt.named_task_uuid = t.named_task_uuid
WHERE s.name = %s AND t.complete
ORDER BY ws.workflow_step_uuid LIMIT 1
"""


def _task(conn: psycopg.Connection[Any], key: str, states: list[str]) -> uuid.UUID | None:
    spec = workflow(key)
    row = conn.execute(_TASK_BY_STATE, (spec.namespace, spec.name, states, 1)).fetchone()
    return row[0] if row else None


def _stratified_tasks(conn: psycopg.Connection[Any]) -> list[tuple[uuid.UUID, str, str]]:
    """One task per stratum; an empty stratum (tiny datasets) falls back to any task of that workflow."""
    chosen: list[tuple[uuid.UUID, str, str]] = []
    for key, state in TASK_STRATA:
        found = _task(conn, key, [state])
        if found is None or any(found == c[0] for c in chosen):
            row = conn.execute(
                _TASK_BY_STATE.replace("AND tt.to_state = ANY(%s)", "AND NOT (t.task_uuid = ANY(%s))"),
                (workflow(key).namespace, workflow(key).name, [c[0] for c in chosen], 1),
            ).fetchone()
            if row is None:
                raise BadInput(f"no {key} task in the database; load a larger dataset (--scale)")
            found, state = row[0], "any"
        chosen.append((found, key, state))
    return chosen


def _transition_tasks(conn: psycopg.Connection[Any]) -> list[tuple[uuid.UUID, str]]:
    """Tasks sitting in one of TRANSITION_STATES, spread over the workflows, with their current state."""
    rows = conn.execute(
        "SELECT t.task_uuid, tt.to_state FROM tasks t "
        "JOIN task_transitions tt ON tt.task_uuid = t.task_uuid AND tt.most_recent "
        "WHERE tt.to_state = ANY(%s) ORDER BY t.task_uuid",
        (list(TRANSITION_STATES),),
    ).fetchall()
    if len(rows) < TRANSITION_SAMPLES:
        raise BadInput(
            f"need {TRANSITION_SAMPLES} tasks in state {' or '.join(TRANSITION_STATES)} for the transition cases, "
            f"found {len(rows)}; load a larger dataset (--scale)"
        )
    step = max(1, len(rows) // TRANSITION_SAMPLES)
    return [(rows[i * step][0], rows[i * step][1]) for i in range(TRANSITION_SAMPLES)]


def sql_statements(conn: psycopg.Connection[Any]) -> list[SqlStatement]:
    """Every SQL case of the plan, with subjects chosen deterministically from the loaded dataset."""
    out: list[SqlStatement] = [
        SqlStatement(
            id=f"sql/get_next_ready_tasks/batch_size={n}",
            function="get_next_ready_tasks",
            sql="SELECT * FROM get_next_ready_tasks(%s)",
            params=(n,),
            meta={"batch_size": n, "timed": "the call and fetch inside an open transaction; BEGIN/ROLLBACK untimed"},
            locks=True,
        )
        for n in NEXT_READY_BATCH_SIZES
    ]
    tasks = _stratified_tasks(conn)
    for function in ("get_step_readiness_status", "get_task_execution_context"):
        for i, (task_uuid, key, state) in enumerate(tasks, start=1):
            out.append(
                SqlStatement(
                    id=f"sql/{function}/sample={i}",
                    function=function,
                    sql=f"SELECT * FROM {function}(%s)",
                    params=(task_uuid,),
                    meta={"task_uuid": str(task_uuid), "workflow": key, "task_state": state},
                )
            )
    for i, (key, step_name) in enumerate(DEPENDENCY_STEPS, start=1):
        row = conn.execute(_STEP_BY_NAME, (step_name,)).fetchone()
        if row is None:
            raise BadInput(f"no complete {key} task holds step {step_name}; load a larger dataset (--scale)")
        out.append(
            SqlStatement(
                id=f"sql/get_step_transitive_dependencies/sample={i}",
                function="get_step_transitive_dependencies",
                sql="SELECT * FROM get_step_transitive_dependencies(%s)",
                params=(row[0],),
                meta={
                    "workflow_step_uuid": str(row[0]),
                    "workflow": key,
                    "step": step_name,
                    "depth": workflow(key).depth(step_name),
                },
            )
        )
    for i, (task_uuid, state) in enumerate(_transition_tasks(conn), start=1):
        other = TRANSITION_STATES[1] if state == TRANSITION_STATES[0] else TRANSITION_STATES[0]
        out.append(
            SqlStatement(
                id=f"sql/transition_task_state_atomic/sample={i}",
                function="transition_task_state_atomic",
                sql="SELECT transition_task_state_atomic(%s, %s, %s, %s, %s)",
                params=(task_uuid, state, other, PROCESSOR_UUID, TRANSITION_METADATA),
                meta={"task_uuid": str(task_uuid), "states": list(TRANSITION_STATES), "initial_state": state},
                cycle=(
                    (task_uuid, state, other, PROCESSOR_UUID, TRANSITION_METADATA),
                    (task_uuid, other, state, PROCESSOR_UUID, TRANSITION_METADATA),
                ),
                expect=True,
            )
        )
    return out


# ----------------------------------------------------------------------------------------------- engine idle

# Work the engine still has: tasks get_next_ready_tasks would hand out, and queued step or result messages.
# get_next_ready_tasks locks rows, so callers run this in a transaction they roll back.
ENGINE_BACKLOG_SQL = (
    "SELECT (SELECT count(*) FROM get_next_ready_tasks(1))"
    " + (SELECT count(*) FROM step_queue_messages)"
    " + (SELECT count(*) FROM orchestration_queue_messages)"
)


def engine_backlog(conn: psycopg.Connection[Any]) -> int:
    """How much work the engine has left right now (0 when idle); rolls back what it touched."""
    with conn.transaction(force_rollback=True):
        row = conn.execute(ENGINE_BACKLOG_SQL).fetchone()
    return int(row[0]) if row else 0


# Per-step hand-off timestamps of the engine's own transitions (the server's clock, so one clock for all
# processes). A transition's created_at is when its row was written (clock_timestamp), so a hop spans: the rest
# of the writing transaction, its commit, the NOTIFY to the next process, its wake-up and its work up to the row.
HOP_SQL = """
SELECT ws.task_uuid,
       max(t.created_at) FILTER (WHERE t.to_state = 'enqueued'),
       max(t.created_at) FILTER (WHERE t.to_state = 'in_progress'),
       max(t.created_at) FILTER (WHERE t.to_state = 'enqueued_for_orchestration'),
       max(t.created_at) FILTER (WHERE t.to_state = 'complete')
FROM workflow_steps ws JOIN workflow_step_transitions t USING (workflow_step_uuid)
WHERE ws.task_uuid = ANY(%s)
GROUP BY ws.task_uuid, ws.workflow_step_uuid
"""
TASK_CREATED_SQL = "SELECT task_uuid, min(created_at) FROM task_transitions WHERE task_uuid = ANY(%s) GROUP BY 1"

#: The plan's placeholder benches this answers: orchestration coordination and the worker processing cycle.
HOP_CASES = {
    "orchestration/task_start": "task created -> its first steps enqueued (wake-up, step discovery, publish)",
    "orchestration/result_processing": "step result submitted -> step complete (wake-up, result processing, "
    "discovery and publishing of the steps it made ready, in the same transaction)",
    "worker/claim": "step enqueued -> claimed in_progress (queue NOTIFY, wake-up, claim)",
    "worker/execute_submit": "claimed -> result submitted (parents' results, handler, submit)",
}


def _ns(later: Any, earlier: Any) -> int | None:
    if later is None or earlier is None:
        return None
    return int((later - earlier).total_seconds() * 1_000_000) * 1000


def hop_latencies(conn: psycopg.Connection[Any], task_uuids: Sequence[str]) -> dict[str, list[int]]:
    """Samples (ns) per hand-off of finished tasks, keyed by HOP_CASES ids; steps that never ran are skipped."""
    ids = [uuid.UUID(str(u)) for u in task_uuids]
    created = dict(conn.execute(TASK_CREATED_SQL, (ids,)).fetchall())
    out: dict[str, list[int]] = {case: [] for case in HOP_CASES}
    first_enqueue: dict[Any, Any] = {}
    for task, enqueued, claimed, submitted, completed in conn.execute(HOP_SQL, (ids,)).fetchall():
        if enqueued is not None and (task not in first_enqueue or enqueued < first_enqueue[task]):
            first_enqueue[task] = enqueued
        for case, value in (
            ("worker/claim", _ns(claimed, enqueued)),
            ("worker/execute_submit", _ns(submitted, claimed)),
            ("orchestration/result_processing", _ns(completed, submitted)),
        ):
            if value is not None:
                out[case].append(value)
    out["orchestration/task_start"] = [
        ns for task, at in first_enqueue.items() if (ns := _ns(at, created.get(task))) is not None
    ]
    return {case: samples for case, samples in out.items() if samples}


class TaskerHttpClient:
    """Tasks over the engine's HTTP API: POST /v1/tasks (timed), GET /v1/tasks/{id}, GET /health as the floor."""

    floor_case = "task_init/calibrate/get_health"
    REQUEST_TIMEOUT_S = 30.0

    def __init__(self, api_url: str) -> None:
        self.client = HttpClient(api_url, self.REQUEST_TIMEOUT_S)
        self.endpoint = f"POST {api_url.rstrip('/')}/v1/tasks"

    def prepare(self, workflow: str, correlation_id: str) -> dict[str, Any]:
        return task_request(workflow, correlation_id)

    def submit(self, prepared: dict[str, Any]) -> HttpResponse:
        return self.client.post_json("/v1/tasks", prepared)

    def accepted(self, workflow: str, answer: HttpResponse) -> str:
        if answer.status_code != 201:
            raise Failure(
                f"{self.endpoint} ({workflow}) returned {answer.status_code}, expected 201: {answer.text[:300]}"
            )
        return str(answer.json()["task_uuid"])

    def fetch(self, task_id: str) -> dict[str, Any]:
        response = self.client.get(f"/v1/tasks/{task_id}")
        if response.status_code != 200:
            raise Failure(f"GET /v1/tasks/{task_id} returned {response.status_code}: {response.text[:300]}")
        body: dict[str, Any] = response.json()
        return body

    def floor(self) -> HttpResponse:
        return self.client.get("/health")

    def close(self) -> None:
        self.client.close()


class TaskerWorkload:
    """The tasker engine's workload as the harness's contract has it (baseline.targets.contract.Workload)."""

    completion_channel = COMPLETION_CHANNEL
    e2e_workflows = ("linear", "diamond", "complex_dag", "hierarchical_tree")
    task_init_workflows = ("linear", "diamond")
    key_cases = (
        "e2e/workflow/linear",
        "e2e/workflow/diamond",
        "task_init/create_task/workflow=linear",
        "sql/get_next_ready_tasks/batch_size=10",
        "sql/get_step_readiness_status/sample=1",
        "event/notify/payload=small",
        "sql/calibrate/select_1",
    )
    lifecycle_modules = ("task_initializer", "step_enqueuer", "result_processor", "task_finalizer")
    calibration_case = "sql/get_step_readiness_status/sample=1"
    hop_cases = HOP_CASES

    def task_client(self, dsn: str, api_url: str | None) -> TaskerHttpClient:
        if not api_url:
            raise BadInput("the tasker target creates tasks over its HTTP API, and this stack has no API URL")
        return TaskerHttpClient(api_url)

    def verify_task(self, task: Mapping[str, Any], workflow: str) -> None:
        verify_task(task, workflow)

    def sql_statements(self, conn: psycopg.Connection[Any]) -> list[SqlStatement]:
        return sql_statements(conn)

    def engine_backlog(self, conn: psycopg.Connection[Any]) -> int:
        return engine_backlog(conn)

    def hop_latencies(self, conn: psycopg.Connection[Any], task_ids: Sequence[str]) -> dict[str, list[int]]:
        return hop_latencies(conn, task_ids)

    def audit_cases(self) -> dict[str, tuple[str, ...]]:
        e2e = ",".join(self.e2e_workflows)
        return {
            "sql": (
                f"sql/get_next_ready_tasks/batch_size={{{','.join(map(str, NEXT_READY_BATCH_SIZES))}}}",
                f"sql/get_step_readiness_status/sample={{1..{len(TASK_STRATA)}}}",
                f"sql/get_task_execution_context/sample={{1..{len(TASK_STRATA)}}}",
                f"sql/transition_task_state_atomic/sample={{1..{TRANSITION_SAMPLES}}}",
                f"sql/get_step_transitive_dependencies/sample={{1..{len(DEPENDENCY_STEPS)}}}",
            ),
            "task_init": (f"task_init/create_task/workflow={{{','.join(self.task_init_workflows)}}}",),
            "e2e": (f"e2e/workflow/{{{e2e}}}",),
            "orchestration": ("orchestration/task_start", "orchestration/result_processing"),
            "worker": ("worker/claim", "worker/execute_submit"),
        }
