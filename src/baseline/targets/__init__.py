"""Target adapters: the only place that knows a system under test. `get_target(name)` returns one."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from baseline.targets.base import Target

# name -> "module:attribute" of a zero-argument factory; imported only when asked for.
REGISTRY: dict[str, str] = {"tasker": "baseline.targets.tasker:TaskerTarget"}


def get_target(name: str) -> Target:
    """The adapter registered under `name`; ConfigError lists the known names otherwise."""
    if name not in REGISTRY:
        from baseline.config import ConfigError

        raise ConfigError(f"target: unknown target {name!r}; expected one of {', '.join(sorted(REGISTRY))}")
    module_name, _, attribute = REGISTRY[name].partition(":")
    factory = getattr(importlib.import_module(module_name), attribute)
    return factory()
