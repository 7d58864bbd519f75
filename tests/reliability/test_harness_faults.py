"""Faults around a real bench (issue 19, harness part): an output folder it cannot write, a full disk, PostgreSQL
lost mid-bench. Each ends in one line naming the cause and the fix, no traceback, and nothing recorded before is
changed. The read-only folder and the full disk are real tmpfs mounts (root mounts them)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def top(harness_top: Path) -> Iterator[Path]:
    yield harness_top
    subprocess.run(["umount", "-q", str(harness_top / "out")], capture_output=True)  # before the folder goes


def _mount_tmpfs(where: Path, options: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.fail("these fault tests mount tmpfs folders and must run as root (as .ci/run does)")
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], check=True)


def _env(top: Path, **samples: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASELINE_")}
    env.update(BASELINE_WORKDIR=str(top / "work"), BASELINE_OUTPUT_DIR=str(top / "out"), BASELINE_SCALE="300")
    env.update({f"BASELINE_SAMPLES_{phase.upper()}": str(n) for phase, n in samples.items()})
    return env


def _bench(command: str = "event-bench") -> list[str]:
    return [sys.executable, "-m", "baseline.cli", command, "--label", "faults", "--quick"]


def _said_once(stderr: str, *words: str) -> None:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("baseline ")]
    assert len(lines) == 1 and all(word in lines[0] for word in words), stderr


def test_a_read_only_output_folder_is_refused_before_the_bench_starts(top: Path) -> None:
    _mount_tmpfs(top / "out", "size=1m,ro")
    started = time.monotonic()
    proc = subprocess.run(_bench(), env=_env(top, event=20), capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2, proc.stderr
    _said_once(proc.stderr, "could not write", "Read-only file system", "BASELINE_OUTPUT_DIR")
    assert not (top / "work" / "pg").exists(), "no stack is started for a bench whose results cannot be written"
    assert time.monotonic() - started < 30


def test_a_full_disk_fails_the_write_and_keeps_what_was_recorded(top: Path) -> None:
    out = top / "out"
    _mount_tmpfs(out, "size=256k")
    recorded = out / "faults" / "run-1" / "event.json"
    recorded.parent.mkdir(parents=True)
    recorded.write_text('{"recorded": "before"}')
    with open(out / "filler", "wb", buffering=0) as filler:  # the folder filled to its last block
        try:
            while True:
                filler.write(b"\0" * 4096)
        except OSError:
            pass
    env = _env(top, event=400)
    try:
        proc = subprocess.run(_bench(), env=env, capture_output=True, text=True, cwd=ROOT, timeout=240)
    finally:
        (out / "filler").unlink(missing_ok=True)
    assert proc.returncode == 1, proc.stderr
    _said_once(proc.stderr, "No space left on device")
    assert recorded.read_text() == '{"recorded": "before"}'
    assert not [p.name for p in recorded.parent.iterdir() if p.name.endswith(".tmp")]


def test_postgresql_lost_mid_bench_is_one_line_and_writes_nothing(top: Path) -> None:
    env = _env(top, sql=200000)  # far more than the time budget takes: the bench is measuring when the server dies
    bench = subprocess.Popen(
        _bench("sql-bench"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    pidfile = top / "work" / "pg" / "data" / "postmaster.pid"
    deadline = time.monotonic() + 120
    while not (pidfile.exists() and (top / "work" / "logs" / "api.log").exists()) and time.monotonic() < deadline:
        assert bench.poll() is None, bench.communicate()
        time.sleep(0.2)
    time.sleep(8)  # the stack is up and settled: the bench is in its cases
    os.kill(int(pidfile.read_text().splitlines()[0]), signal.SIGQUIT)  # PostgreSQL's immediate shutdown
    _, stderr = bench.communicate(timeout=120)
    assert bench.returncode == 1, stderr
    _said_once(stderr, "lost PostgreSQL", "postgres.log")
    assert not list((top / "out").rglob("sql.json"))
