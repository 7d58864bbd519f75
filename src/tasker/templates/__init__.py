"""Task templates: YAML files bundled with the package, parsed and validated into plain dataclasses.

Parsing is pure so bad templates fail with a message naming the file and the field to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

import yaml

from tasker.handlers import HANDLERS


class TemplateError(ValueError):
    """A template file is malformed."""


@dataclass(frozen=True)
class StepTemplate:
    name: str
    handler: str
    depends_on: tuple[str, ...] = ()
    retryable: bool = True
    max_attempts: int = 3
    backoff_seconds: int | None = None


@dataclass(frozen=True)
class TaskTemplate:
    namespace: str
    name: str
    version: str
    description: str
    steps: tuple[StepTemplate, ...]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TaskTemplate:
        steps = tuple(StepTemplate(**{**s, "depends_on": tuple(s["depends_on"])}) for s in data["steps"])
        return cls(data["namespace"], data["name"], data["version"], data["description"], steps)


def _require(data: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in data:
        raise TemplateError(f"{where}: missing field '{key}'")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TemplateError(f"{where}: field '{key}' must be {kind.__name__}, got {type(value).__name__}")
    return value


def parse_template(data: Any, source: str = "<template>") -> TaskTemplate:
    """Validate a template mapping: unique step names, known handlers and dependencies, no cycles."""
    if not isinstance(data, Mapping):
        raise TemplateError(f"{source}: a template must be a mapping, got {type(data).__name__}")
    namespace = _require(data, "namespace", str, source)
    name = _require(data, "name", str, source)
    version = str(_require(data, "version", str, source))
    retry = data.get("retry") or {}
    if not isinstance(retry, Mapping):
        raise TemplateError(f"{source}: field 'retry' must be a mapping")
    raw_steps = _require(data, "steps", list, source)
    if not raw_steps:
        raise TemplateError(f"{source}: field 'steps' must list at least one step")
    steps: list[StepTemplate] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_steps):
        where = f"{source}: steps[{i}]"
        if not isinstance(raw, Mapping):
            raise TemplateError(f"{where} must be a mapping")
        step_name = _require(raw, "name", str, where)
        if step_name in seen:
            raise TemplateError(f"{where}: duplicate step name '{step_name}'")
        handler = raw.get("handler", "math")
        if handler not in HANDLERS:
            raise TemplateError(f"{where}: unknown handler '{handler}' (known: {', '.join(sorted(HANDLERS))})")
        depends_on = tuple(raw.get("depends_on") or ())
        for dep in depends_on:
            if dep not in seen:
                raise TemplateError(f"{where}: depends_on '{dep}' is not a step listed before '{step_name}'")
        merged = {**retry, **(raw.get("retry") or {})}
        max_attempts = merged.get("max_attempts", 3)
        if not isinstance(max_attempts, int) or max_attempts < 1:
            raise TemplateError(f"{where}: retry.max_attempts must be an integer >= 1")
        backoff = merged.get("backoff_seconds")
        if backoff is not None and (not isinstance(backoff, int) or backoff < 0):
            raise TemplateError(f"{where}: retry.backoff_seconds must be an integer >= 0")
        steps.append(
            StepTemplate(
                name=step_name,
                handler=handler,
                depends_on=depends_on,
                retryable=bool(merged.get("retryable", True)),
                max_attempts=max_attempts,
                backoff_seconds=backoff,
            )
        )
        seen.add(step_name)
    return TaskTemplate(namespace, name, version, str(data.get("description", "")), tuple(steps))


def load_bundled_templates() -> list[TaskTemplate]:
    """The four reference workflows shipped with the package."""
    folder = resources.files("tasker.templates")
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            out.append(parse_template(yaml.safe_load(entry.read_text()), source=entry.name))
    return out
