"""Pure logic: templates and handlers (the hand-off rules are in test_rules.py, run against the SQL too)."""

from __future__ import annotations

import pytest

from tasker.handlers import HandlerError, StepCall, math_handler, run_handler
from tasker.templates import TaskTemplate, TemplateError, load_bundled_templates, parse_template


def test_bundled_templates_are_the_four_reference_workflows() -> None:
    found = {(t.namespace, t.name, t.version, len(t.steps)) for t in load_bundled_templates()}
    assert found == {
        ("linear_workflow", "mathematical_sequence", "1.0.0", 4),
        ("diamond_workflow", "diamond_pattern", "1.0.0", 4),
        ("complex_workflow", "complex_dag", "1.0.0", 7),
        ("tree_workflow", "hierarchical_tree", "1.0.0", 8),
    }


def test_template_round_trips_through_json() -> None:
    for template in load_bundled_templates():
        assert TaskTemplate.from_json(template.to_json()) == template


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "must be a mapping"),
        ({"name": "x", "version": "1", "steps": [{"name": "a"}]}, "missing field 'namespace'"),
        ({"namespace": "n", "name": "x", "version": "1", "steps": []}, "at least one step"),
        ({"namespace": "n", "name": "x", "version": 1, "steps": [{"name": "a"}]}, "'version' must be str"),
        ({"namespace": "n", "name": "x", "version": "1", "steps": [{"name": "a"}, {"name": "a"}]}, "duplicate"),
        (
            {"namespace": "n", "name": "x", "version": "1", "steps": [{"name": "a", "depends_on": ["b"]}]},
            "depends_on 'b' is not a step listed before 'a'",
        ),
        ({"namespace": "n", "name": "x", "version": "1", "steps": [{"name": "a", "handler": "nope"}]}, "'nope'"),
        (
            {"namespace": "n", "name": "x", "version": "1", "retry": {"max_attempts": 0}, "steps": [{"name": "a"}]},
            "max_attempts",
        ),
    ],
)
def test_bad_templates_name_what_to_fix(data: object, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        parse_template(data, "t.yaml")


def test_step_retry_overrides_template_retry() -> None:
    template = parse_template(
        {
            "namespace": "n",
            "name": "x",
            "version": "1",
            "retry": {"max_attempts": 5, "backoff_seconds": 2},
            "steps": [{"name": "a"}, {"name": "b", "depends_on": ["a"], "retry": {"max_attempts": 1}}],
        }
    )
    assert (template.steps[0].max_attempts, template.steps[0].backoff_seconds) == (5, 2)
    assert (template.steps[1].max_attempts, template.steps[1].backoff_seconds) == (1, 2)


def call(parents: dict, context: dict | None = None, attempt: int = 1, name: str = "s") -> StepCall:
    return StepCall(name, attempt, context if context is not None else {"even_number": 6}, parents)


def test_math_handler_rules_and_exact_big_results() -> None:
    assert math_handler(call({})) == 36
    assert math_handler(call({"p": 1296})) == 1679616
    assert math_handler(call({"a": 1679616, "b": 1679616, "c": 1679616})) == 6**24
    assert math_handler(call({"a": 6**8, "b": 6**8, "c": 6**8, "d": 6**8})) == 7958661109946400884391936


@pytest.mark.parametrize("context", [{}, {"even_number": "6"}, {"even_number": 6.0}, {"even_number": True}])
def test_math_handler_rejects_non_integer_input(context: dict) -> None:
    with pytest.raises(HandlerError, match="even_number"):
        math_handler(call({}, context))


def test_fault_injection_hook_fails_only_the_first_attempts() -> None:
    context = {"even_number": 2, "_fail_attempts": {"s": 2}}
    for attempt in (1, 2):
        with pytest.raises(HandlerError, match="injected"):
            run_handler("math", call({}, context, attempt), test_hooks=True)
    assert run_handler("math", call({}, context, 3), test_hooks=True) == 4


def test_test_hooks_are_plain_context_data_outside_the_test_mode() -> None:
    context = {"even_number": 2, "_fail_attempts": {"s": 2}, "_sleep_ms": {"s": 60_000}}
    assert run_handler("math", call({}, context, 1)) == 4


def test_unknown_handler_is_a_handler_error() -> None:
    with pytest.raises(HandlerError, match="no handler named 'zzz'"):
        run_handler("zzz", call({}))
