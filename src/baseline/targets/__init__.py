"""Finding a target: an installed plugin by name (entry-point group `baseline.targets`) or `package.module:Factory`.

The built-in tasker target is registered through the same entry-point group as any user's own (pyproject.toml),
so adding a system under test means installing a package, never editing this one.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from pathlib import Path
from typing import Any

from baseline.config import Config
from baseline.errors import BadInput
from baseline.targets.contract import Revisable, Target

GROUP = "baseline.targets"


class UnknownTarget(BadInput):
    """No installed target has that name, or `module:Factory` does not import; the message lists what exists."""


def installed_targets() -> dict[str, importlib.metadata.EntryPoint]:
    return {entry.name: entry for entry in importlib.metadata.entry_points(group=GROUP)}


def _factory(name: str) -> Any:
    if ":" in name:
        module_name, _, attribute = name.partition(":")
        try:
            return getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise UnknownTarget(f"target {name!r}: cannot load it ({type(exc).__name__}: {exc})") from None
    installed = installed_targets()
    if name not in installed:
        known = ", ".join(sorted(installed)) or "none"
        raise UnknownTarget(
            f"target {name!r} is not installed (entry points of group {GROUP}: {known}); install the package that "
            f"provides it, or name its factory as package.module:Factory"
        )
    return installed[name].load()


def load_target(name: str) -> Target:
    """The target `name` names, built by its factory and checked against the contract."""
    target = _factory(name)()
    if not isinstance(target, Target):
        raise UnknownTarget(
            f"target {name!r}: its factory returned a {type(target).__name__}, which lacks part of the target "
            "contract (baseline.targets.contract.Target)"
        )
    return target


def revisable(target: Target, name: str) -> Revisable:
    """The target as one whose revisions can be built and measured side by side, or bad input saying it cannot."""
    if not isinstance(target, Revisable):
        raise UnknownTarget(
            f"target {name!r} cannot build revisions of itself (it lacks resolve_revision/install/bind of "
            "baseline.targets.contract.Revisable), so it cannot be measured A/B"
        )
    return target


def target_for(config: Config) -> Target:
    """The configured target, bound to the revision an A/B side built (config.revision_dir) when there is one."""
    target = load_target(config.target)
    if config.revision_dir:
        return revisable(target, config.target).bind(Path(config.revision_dir))
    return target


__all__ = ["GROUP", "UnknownTarget", "installed_targets", "load_target", "revisable", "target_for"]
