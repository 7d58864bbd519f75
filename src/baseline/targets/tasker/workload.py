"""What the harness knows of the tasker workload: its four workflows, their expected results, and the SQL cases.

Everything here reaches the engine only through public surfaces: the HTTP request/response shapes and the
public SQL functions and tables (docs/architecture.md). Nothing imports `tasker`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
                ("dag_init", ()),
                ("dag_process_left", ("dag_init",)),
                ("dag_process_right", ("dag_init",)),
                ("dag_validate", ("dag_process_left", "dag_process_right")),
                ("dag_transform", ("dag_process_left",)),
                ("dag_analyze", ("dag_process_right",)),
                ("dag_finalize", ("dag_validate", "dag_transform", "dag_analyze")),
            ),
        ),
        WorkflowSpec(
            "hierarchical_tree",
            "tree_workflow",
            "hierarchical_tree",
            (
                ("tree_root", ()),
                ("tree_branch_left", ("tree_root",)),
                ("tree_branch_right", ("tree_root",)),
                ("tree_leaf_a", ("tree_branch_left",)),
                ("tree_leaf_b", ("tree_branch_left",)),
                ("tree_leaf_c", ("tree_branch_right",)),
                ("tree_leaf_d", ("tree_branch_right",)),
                ("tree_final_join", ("tree_leaf_a", "tree_leaf_b", "tree_leaf_c", "tree_leaf_d")),
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


class TaskVerificationError(AssertionError):
    """A finished task whose state or results differ from what its workflow must produce."""


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
