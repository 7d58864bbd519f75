"""Supervised engine processes: started in their own sessions, health-checked, and never left orphaned.

Each process gets its own session (process group) so stopping it also stops anything it forked; stopping is
SIGTERM to the group, then SIGKILL after a grace period. Live supervisors are stopped at interpreter exit and
on SIGINT/SIGTERM (which are turned into exceptions so every `finally` up the stack runs too).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import requests

from baseline.procfs import pid_alive, process_start_time
from baseline.services.model import StackError
from baseline.targets.contract import ProcessRole


class ProcessFailed(StackError):
    """A supervised process died or never became healthy; the message names the role and shows its log tail."""


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    tail = text.strip().splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in tail) if tail else "(log is empty)"


def terminate_pids(
    pids: Mapping[str, int], *, start_times: Mapping[str, int | None] | None = None, grace_s: float = 5.0
) -> None:
    """SIGTERM each process group (falling back to the pid), SIGKILL whatever outlives the grace period."""
    start_times = start_times or {}
    targets = {role: pid for role, pid in pids.items() if pid_alive(pid, start_times.get(role))}
    for pid in targets.values():
        _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(pid_alive(pid) for pid in targets.values()):
        time.sleep(0.05)
    for pid in targets.values():
        if pid_alive(pid):
            _signal_group(pid, signal.SIGKILL)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


@dataclass
class Managed:
    role: ProcessRole
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_handle: IO[bytes]

    @property
    def pid(self) -> int:
        return self.popen.pid


_live: set[Supervisor] = set()
_live_lock = threading.Lock()
_handlers_installed = False


def _stop_all() -> None:
    with _live_lock:
        supervisors = list(_live)
    for supervisor in supervisors:
        supervisor.stop()


#: After the first SIGINT/SIGTERM, further ones within this many seconds are ignored: a second Ctrl-C pressed
#: while the first one's teardown runs would otherwise cut it short and leave a stack running.
TEARDOWN_WINDOW_S = 20.0
_first_signal_at: float | None = None


def _on_signal(signum: int, _frame: object) -> None:
    global _first_signal_at
    now = time.monotonic()
    if _first_signal_at is not None and now - _first_signal_at < TEARDOWN_WINDOW_S:
        return
    _first_signal_at = now
    _stop_all()
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


def install_signal_handlers() -> None:
    """SIGINT/SIGTERM stop every live supervisor and then unwind as KeyboardInterrupt / SystemExit(128+n)."""
    global _handlers_installed
    if _handlers_installed or threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    _handlers_installed = True


atexit.register(_stop_all)


class Supervisor:
    """Starts a set of role processes, waits until they are healthy, and stops them all (group-wide)."""

    def __init__(self, log_dir: Path, *, cwd: Path | None = None, grace_s: float = 5.0) -> None:
        self.log_dir = Path(log_dir)
        self.cwd = cwd
        self.grace_s = grace_s
        self.processes: dict[str, Managed] = {}

    @property
    def pids(self) -> dict[str, int]:
        return {name: managed.pid for name, managed in self.processes.items()}

    def start_times(self) -> dict[str, int | None]:
        return {name: process_start_time(pid) for name, pid in self.pids.items()}

    def log_path(self, role: str) -> Path:
        return self.log_dir / f"{role}.log"

    def start(self, roles: Iterable[ProcessRole]) -> dict[str, int]:
        """Launch every role (own session, stdout+stderr to <log_dir>/<role>.log); returns role -> pid."""
        install_signal_handlers()
        with _live_lock:
            _live.add(self)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for role in roles:
            if role.name in self.processes:
                raise ValueError(f"role {role.name!r} is already running under this supervisor")
            log_path = self.log_path(role.name)
            handle = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
            try:
                popen = subprocess.Popen(
                    role.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    cwd=self.cwd,
                    env={**os.environ, **role.env},
                    start_new_session=True,
                )
            except OSError as exc:
                handle.close()
                self.stop()
                raise ProcessFailed(f"{role.name}: could not start {role.argv[0]!r}: {exc}") from None
            self.processes[role.name] = Managed(role, popen, log_path, handle)
        return self.pids

    def _died(self, managed: Managed) -> ProcessFailed:
        code = managed.popen.returncode
        return ProcessFailed(
            f"{managed.role.name} (pid {managed.pid}) exited with code {code}; last lines of {managed.log_path}:\n"
            f"{log_tail(managed.log_path)}"
        )

    def check_alive(self) -> None:
        """Raise ProcessFailed naming the first role that has exited, with its log tail."""
        for managed in self.processes.values():
            if managed.popen.poll() is not None:
                raise self._died(managed)

    def wait_healthy(
        self,
        timeout_s: float = 60.0,
        *,
        settle_s: float = 0.5,
        predicates: Mapping[str, Callable[[], bool]] | None = None,
    ) -> None:
        """Poll health URLs (2xx) or predicates; roles with neither must simply stay alive for `settle_s`."""
        predicates = dict(predicates or {})
        pending = set(self.processes)
        started = time.monotonic()
        session = requests.Session()
        try:
            while pending:
                self.check_alive()
                for name in sorted(pending):
                    managed = self.processes[name]
                    if self._is_healthy(managed, predicates.get(name), session, started, settle_s):
                        pending.discard(name)
                if not pending:
                    break
                if time.monotonic() - started > timeout_s:
                    name = sorted(pending)[0]
                    managed = self.processes[name]
                    what = managed.role.health_url or "its readiness check"
                    raise ProcessFailed(
                        f"{name} (pid {managed.pid}) was not healthy after {timeout_s:.0f} s (waiting on {what}); "
                        f"last lines of {managed.log_path}:\n{log_tail(managed.log_path)}"
                    )
                time.sleep(0.1)
            self.check_alive()
        finally:
            session.close()

    @staticmethod
    def _is_healthy(
        managed: Managed,
        predicate: Callable[[], bool] | None,
        session: requests.Session,
        started: float,
        settle_s: float,
    ) -> bool:
        if predicate is not None:
            try:
                return bool(predicate())
            except Exception:
                return False
        if managed.role.health_url:
            try:
                return session.get(managed.role.health_url, timeout=1.0).ok
            except requests.RequestException:
                return False
        return time.monotonic() - started >= settle_s

    def detach(self) -> dict[str, int]:
        """Leave the processes running past this interpreter (for `up`); returns role -> pid."""
        with _live_lock:
            _live.discard(self)
        for managed in self.processes.values():
            managed.log_handle.close()
        pids = self.pids
        self.processes = {}
        return pids

    def stop(self) -> None:
        """SIGTERM every process group, SIGKILL after the grace period, reap, close logs. Safe to call twice.

        Stays registered until done, so a signal arriving mid-stop stops the rest from the handler."""
        running = [m for m in self.processes.values() if m.popen.poll() is None]
        for managed in running:
            _signal_group(managed.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for managed in running:
            try:
                managed.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(managed.pid, signal.SIGKILL)
                managed.popen.wait()
        for managed in running:
            # Helpers a role forked into its group must not outlive it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(managed.pid, signal.SIGKILL)
        for managed in self.processes.values():
            managed.log_handle.close()
        self.processes = {}
        with _live_lock:
            _live.discard(self)

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
