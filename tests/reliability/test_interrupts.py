"""Ctrl-C in a real pipeline, pressed in its pseudo-terminal as a user presses it (the terminal sends SIGINT to the
foreground process group: the pipeline and the phase process it runs): everything it started is gone within 5 s,
and the manifest says what was interrupted, with true timestamps."""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import sys
import threading
import time
from pathlib import Path

import pytest

from baseline.procfs import pid_alive

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CTRL_C = b"\x03"


class PtyPipeline:
    """`baseline pipeline` as the session leader of a new pseudo-terminal, its output drained by a thread."""

    def __init__(self, top: Path, label: str) -> None:
        self.top, self.label = top, label
        env = {k: v for k, v in os.environ.items() if not k.startswith("BASELINE_")}
        env.update(
            BASELINE_WORKDIR=str(top / "work"),
            BASELINE_OUTPUT_DIR=str(top / "out"),
            BASELINE_SCALE="300",
            BASELINE_SAMPLES_SQL="30",
            BASELINE_SAMPLES_EVENT="30",
            BASELINE_SAMPLES_TASK_INIT="30",
            BASELINE_SAMPLES_E2E="30",
        )
        argv = [sys.executable, "-m", "baseline.cli", "pipeline", "--label", label, "--quick", "--runs", "1"]
        pid, fd = pty.fork()
        if pid == 0:  # the child: the pty is its controlling terminal
            os.chdir(ROOT)
            os.execve(sys.executable, argv, env)
        self.pid, self.fd = pid, fd
        self.output = bytearray()
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk

    @property
    def manifest(self) -> dict:
        path = self.top / "out" / self.label / "manifest.json"
        return json.loads(path.read_text()) if path.exists() else {"runs": {}}

    def stack_pids(self) -> dict[str, int]:
        path = self.top / "work" / "state.json"
        return json.loads(path.read_text())["pids"] if path.exists() else {}

    def wait_for_phase(self, phase: str, timeout_s: float = 240) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            run = self.manifest["runs"].get("1", {})
            if run.get("phases", {}).get(phase, {}).get("status") == "running":
                return
            assert self.exit_code(block=False) is None, self.text()
            time.sleep(0.2)
        pytest.fail(f"phase {phase} never started:\n{self.text()}")

    def press(self, key: bytes) -> None:
        os.write(self.fd, key)

    def exit_code(self, *, block: bool = True) -> int | None:
        pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        if pid == 0:
            return None
        self.code = os.waitstatus_to_exitcode(status)
        return self.code

    def text(self) -> str:
        return self.output.decode(errors="replace")[-3000:]

    def kill(self) -> None:
        try:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


@pytest.mark.parametrize(("phase", "presses"), [("sql", 1), ("lifecycle", 2)])
def test_ctrl_c_tears_everything_down_and_the_manifest_says_so(harness_top: Path, phase: str, presses: int) -> None:
    top = harness_top
    pipeline = PtyPipeline(top, f"ctrl-c-{phase}")
    try:
        pipeline.wait_for_phase(phase)
        pids = pipeline.stack_pids()
        assert {"postgres", "api", "orchestrator"} <= set(pids)
        pressed = time.monotonic()
        for _ in range(presses):
            pipeline.press(CTRL_C)
            time.sleep(0.3)
        deadline = pressed + 5
        while time.monotonic() < deadline and any(pid_alive(pid) for pid in pids.values()):
            time.sleep(0.05)
        left = {role: pid for role, pid in pids.items() if pid_alive(pid)}
        assert not left, f"still running {time.monotonic() - pressed:.1f} s after Ctrl-C: {left}"
        assert pipeline.exit_code() == 130, pipeline.text()
    finally:
        pipeline.kill()
    assert not (top / "work" / "state.json").exists()
    run = pipeline.manifest["runs"]["1"]
    assert run["status"] == "interrupted" and "Ctrl-C" in run["error"]
    assert dt.datetime.fromisoformat(run["finished_at"]) >= dt.datetime.fromisoformat(run["started_at"])
    record = run["phases"][phase]
    assert record["status"] == "interrupted"
    assert dt.datetime.fromisoformat(record["finished_at"]) >= dt.datetime.fromisoformat(record["started_at"])
    assert all(p["status"] == "ok" for name, p in run["phases"].items() if name not in (phase,)), run["phases"]
