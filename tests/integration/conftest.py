"""Integration fixtures: an isolated harness environment (own work dir, output dir, small sizes) per module."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

HarnessEnv = Callable[..., dict[str, str]]


@pytest.fixture(scope="session")
def harness_env() -> Iterator[HarnessEnv]:
    """harness_env(prefix, samples={phase: n}) -> os.environ plus BASELINE_* pointing into a fresh temp dir.

    The dir is 0755 because the embedded cluster's server account must enter it; all are removed at the end.
    """
    made: list[Path] = []

    def make(prefix: str, samples: dict[str, int], *, scale: int = 300, warmup: int = 2) -> dict[str, str]:
        top = Path(tempfile.mkdtemp(prefix=f"baseline-{prefix}-"))
        top.chmod(0o755)
        made.append(top)
        env = {
            **os.environ,
            "BASELINE_WORKDIR": str(top / "work"),
            "BASELINE_OUTPUT_DIR": str(top / "out"),
            "BASELINE_SCALE": str(scale),
            "BASELINE_WARMUP": str(warmup),
            **{f"BASELINE_SAMPLES_{phase.upper()}": str(n) for phase, n in samples.items()},
        }
        for inherited in ("BASELINE_LABEL", "BASELINE_LABEL_LOCK"):
            env.pop(inherited, None)
        return env

    yield make
    for top in made:
        shutil.rmtree(top, ignore_errors=True)
