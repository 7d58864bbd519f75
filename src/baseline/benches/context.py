"""What every bench receives: the run's configuration, its stack and its target, in one typed value."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baseline import placement
from baseline.config import Config
from baseline.progress import NULL, Progress
from baseline.services.model import Stack
from baseline.targets.contract import Target, Workload


@dataclass(frozen=True)
class RunContext:
    config: Config
    stack: Stack
    target: Target
    progress: Progress = NULL

    @property
    def placement(self) -> placement.Placement:
        return placement.for_policy(self.config.placement)

    def pin(self, conn: Any) -> str:
        """Put the backend of a timed connection where the placement policy puts the harness (with its client)."""
        if not self.stack.backend_pids_are_ours:
            return "in a container (its PID is not this host's)"
        return placement.pin_backend(conn, self.placement)

    @property
    def workload(self) -> Workload:
        return self.target.workload

    @property
    def run_dir(self) -> Path:
        return self.config.run_dir
