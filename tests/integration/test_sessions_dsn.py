"""A DSN given to a nox session never reaches nox's echo of the command line (nor the process's argv)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from baseline.services.postgres import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_a_sessions_dsn_travels_in_the_environment() -> None:
    top = Path(tempfile.mkdtemp(prefix="baseline-dsn-"))
    nox = shutil.which("nox") or str(Path(sys.executable).with_name("nox"))
    dsn = f"postgresql://bob:s3cret-pw@127.0.0.1:{free_port()}/db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASELINE_")}
    env.update(BASELINE_WORKDIR=str(top / "work"), BASELINE_OUTPUT_DIR=str(top / "out"))
    try:
        proc = subprocess.run(
            [nox, "-s", "up", "--", "--services", "external", "--dsn", dsn, "--api-url", "http://127.0.0.1:9"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        shutil.rmtree(top, ignore_errors=True)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0  # nothing answers there
    assert "s3cret-pw" not in output
    assert "bob@127.0.0.1" in output, output  # the harness got the DSN, and names it without its password
