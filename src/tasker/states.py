"""Task and step states of the tasker model (REFERENCE.md); a state is the most_recent transition row.

docs/engine.md ("States") says which engine path sets each state; the model's others are set only from outside.
"""

from __future__ import annotations

TASK_PENDING = "pending"
TASK_WAITING_FOR_DEPENDENCIES = "waiting_for_dependencies"
TASK_WAITING_FOR_RETRY = "waiting_for_retry"
TASK_BLOCKED_BY_FAILURES = "blocked_by_failures"
TASK_COMPLETE = "complete"

TASK_STATES = frozenset(
    {
        "pending",
        "initializing",
        "enqueuing_steps",
        "steps_in_process",
        "evaluating_results",
        "waiting_for_dependencies",
        "waiting_for_retry",
        "blocked_by_failures",
        "complete",
        "error",
        "cancelled",
        "resolved_manually",
    }
)
TASK_TERMINAL_STATES = frozenset({"complete", "error", "blocked_by_failures", "cancelled", "resolved_manually"})

STEP_PENDING = "pending"
STEP_ENQUEUED_FOR_ORCHESTRATION = "enqueued_for_orchestration"
STEP_ENQUEUED_AS_ERROR = "enqueued_as_error_for_orchestration"
STEP_WAITING_FOR_RETRY = "waiting_for_retry"
STEP_COMPLETE = "complete"
STEP_ERROR = "error"

STEP_STATES = frozenset(
    {
        "pending",
        "enqueued",
        "in_progress",
        "enqueued_for_orchestration",
        "enqueued_as_error_for_orchestration",
        "waiting_for_retry",
        "complete",
        "error",
        "cancelled",
        "resolved_manually",
    }
)
# A step whose result the orchestrator waits for.
STEP_IN_FLIGHT_STATES = frozenset({"enqueued", "in_progress", STEP_ENQUEUED_FOR_ORCHESTRATION, STEP_ENQUEUED_AS_ERROR})
