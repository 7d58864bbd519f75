"""Step handlers: pure functions from (task context, parents' results) to a JSON-serialisable result.

Test hooks read from the task context so faults can be injected through the public API, in the engine's test mode
only (run_handler's `test_hooks`, set by workers started with TASKER_TEST_HOOKS=1; docs/engine.md):
`_fail_attempts: {step_name: n}` makes the step raise on its first n attempts, `_sleep_ms: {step_name: ms}`
makes it sleep (used to kill a worker mid-step). Outside the test mode those keys are plain context data.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class HandlerError(RuntimeError):
    """A handler could not produce a result; the step fails and is retried per its template."""


@dataclass(frozen=True)
class StepCall:
    step_name: str
    attempt: int
    context: Mapping[str, Any]
    parent_results: Mapping[str, Any]


def math_handler(call: StepCall) -> int:
    """Root: square `even_number`; one parent: square its result; several parents: multiply their results."""
    if not call.parent_results:
        value = call.context.get("even_number")
        if not isinstance(value, int) or isinstance(value, bool):
            raise HandlerError(f"context.even_number must be an integer, got {value!r}")
        return value * value
    values: list[int] = list(call.parent_results.values())
    for name, value in call.parent_results.items():
        if not isinstance(value, int) or isinstance(value, bool):
            raise HandlerError(f"parent '{name}' result must be an integer, got {value!r}")
    if len(values) == 1:
        return values[0] * values[0]
    return math.prod(values)


def noop_handler(call: StepCall) -> None:
    """Does nothing: measures framework overhead."""
    return None


HANDLERS: dict[str, Callable[[StepCall], Any]] = {"math": math_handler, "noop": noop_handler}


def apply_test_hooks(call: StepCall) -> None:
    """The context's `_sleep_ms` and `_fail_attempts` for this step (test mode only)."""
    sleep_ms = (call.context.get("_sleep_ms") or {}).get(call.step_name)
    if sleep_ms:
        time.sleep(float(sleep_ms) / 1000.0)
    fail_attempts = (call.context.get("_fail_attempts") or {}).get(call.step_name, 0)
    if call.attempt <= fail_attempts:
        raise HandlerError(f"injected failure of {call.step_name} on attempt {call.attempt}")


def run_handler(name: str, call: StepCall, test_hooks: bool = False) -> Any:
    """Apply the context's test hooks when `test_hooks` (the engine's test mode), then the named handler."""
    if test_hooks:
        apply_test_hooks(call)
    try:
        handler = HANDLERS[name]
    except KeyError:
        raise HandlerError(f"no handler named '{name}'") from None
    return handler(call)
