"""task_finalizer: settle a task that has nothing in flight, from get_task_execution_context.

complete when every step is done; blocked_by_failures when a step failed for good; waiting_for_retry or
waiting_for_dependencies otherwise (the orchestrator's poll picks the task up again). A terminal state sends
NOTIFY tasker_task_completed with the task uuid in the transaction that makes it, and that commit is synchronous.

The work runs server side in tasker_finalize_task (sql/functions/tasker_finalize_task.sql), reached from the
hand-offs that step_enqueuer.start_task and result_processor.process_next_result call; `settled` reads its
outcome from their rows. `next_task_state` states the settle rule in Python: it is a specification, not called
in production; tests/engine/test_rules.py runs one table of cases against it and the SQL function.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tasker.states import (
    TASK_BLOCKED_BY_FAILURES,
    TASK_COMPLETE,
    TASK_TERMINAL_STATES,
    TASK_WAITING_FOR_DEPENDENCIES,
    TASK_WAITING_FOR_RETRY,
)


@dataclass(frozen=True)
class Finalization:
    task_uuid: uuid.UUID | str
    execution_status: str
    state: str | None  # the state the task moved to, None when it stays as it is


def settled(task_uuid: uuid.UUID | str, execution_status: str | None, new_state: str | None) -> Finalization | None:
    """The finalizer's part of a hand-off's row: None when the task was not settled (something ran or was enqueued)."""
    return None if execution_status is None else Finalization(task_uuid, execution_status, new_state)


def next_task_state(execution_status: str, current_state: str, retry_waiting: bool) -> str | None:
    """Where a task with nothing in flight goes; None to leave it (e.g. steps are ready)."""
    if current_state in TASK_TERMINAL_STATES:
        return None
    if execution_status == "all_complete":
        return TASK_COMPLETE
    if execution_status == "blocked_by_failures":
        return TASK_BLOCKED_BY_FAILURES
    if execution_status in ("has_ready_steps", "processing"):
        return None
    target = TASK_WAITING_FOR_RETRY if retry_waiting else TASK_WAITING_FOR_DEPENDENCIES
    return None if target == current_state else target
