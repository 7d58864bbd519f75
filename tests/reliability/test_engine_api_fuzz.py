"""Issue 19: a bounded schemathesis run against a real engine stack (api, orchestrator, worker): every endpoint of
/openapi.json, the POST /v1/tasks body included, through all of schemathesis's phases (examples, coverage,
fuzzing, stateful), finds no server error, and every response conforms to the documented schema.

Bounded: at most MAX_EXAMPLES cases per operation and phase, a fixed seed, a deadline for the whole run. NUL
characters are not generated: PostgreSQL's text and jsonb cannot hold them, and the API answers 422 naming that
(tests/engine/test_api.py), which schemathesis would count as a valid request refused.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MAX_EXAMPLES = 150
SEED = 19
DEADLINE_S = 240
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "unsupported_method",
)


def schemathesis_command() -> list[str]:
    beside = Path(sys.executable).parent / "schemathesis"
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "schemathesis.cli"]


def test_schemathesis_finds_no_server_error(
    engine_dsn: str, engine_stack: Any, client: Callable[[Any], Any], tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    with engine_stack(engine_dsn, workers=1, test_hooks=False, log_dir=logs) as stack:
        command = [
            *schemathesis_command(),
            "run",
            f"{stack.api_url}/openapi.json",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(SEED),
            "--workers",
            "1",
            "--checks",
            ",".join(CHECKS),
            "--generation-allow-x00",
            "false",
            "--generation-database",
            "none",
            "--request-timeout",
            "10",
            "--no-color",
        ]
        run = subprocess.run(command, capture_output=True, text=True, timeout=DEADLINE_S, cwd=tmp_path)
        output = run.stdout + run.stderr
        assert run.returncode == 0, output[-6000:]
        assert "Selected: 4/4" in output and "Tested: 4" in output, output[-3000:]
        assert "No issues found" in output, output[-3000:]

        assert all(stack.alive(name) for name in stack.processes), "every engine process survived the run"
        assert client(stack).ready() == (200, {"status": "ok"})
    for log in logs.iterdir():
        assert "Traceback" not in log.read_text(errors="replace"), f"{log.name}:\n{log.read_text()[-3000:]}"
