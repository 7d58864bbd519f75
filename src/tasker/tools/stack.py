"""Start api, orchestrator and workers as real processes (`python -m tasker ...`) and stop them all.

Used by the end-to-end tests and the latency tool; each process gets its own session so a stop never leaks
children, and stop() always runs (context manager).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class EngineStack:
    dsn: str
    workers: int = 2
    worker_concurrency: int = 1
    visibility_timeout: float = 30.0
    api_port: int = 0
    orchestrator: bool = True
    log_dir: Path | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.api_port = self.api_port or free_port()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def spawn(self, name: str, *args: str) -> None:
        out = open(self.log_dir / f"{name}.log", "wb") if self.log_dir else subprocess.DEVNULL  # noqa: SIM115
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "tasker", *args, "--dsn", self.dsn],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def start_worker(self, name: str) -> None:
        self.spawn(
            name,
            "worker",
            "--concurrency",
            str(self.worker_concurrency),
            "--visibility-timeout",
            str(self.visibility_timeout),
        )

    def start(self, timeout: float = 30.0) -> EngineStack:
        self.spawn("api", "api", "--port", str(self.api_port))
        if self.orchestrator:
            self.spawn("orchestrator", "orchestrator")
        for i in range(1, self.workers + 1):
            self.start_worker(f"worker-{i}")
        deadline = time.monotonic() + timeout
        while True:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode} during start-up")
            try:
                if requests.get(f"{self.api_url}/health/ready", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API did not become ready on {self.api_url} within {timeout:.0f} s")
            time.sleep(0.05)

    def kill(self, name: str) -> None:
        """SIGKILL one process (a crash: no cleanup runs)."""
        proc = self.processes[name]
        _signal_group(proc, signal.SIGKILL)
        proc.wait(5)

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for proc in self.processes.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(5)

    def __enter__(self) -> EngineStack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
