"""Supervisor with real processes: health over HTTP, PIDs, group stop, early exits, and no orphans on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
import requests

from baseline.procfs import pid_alive
from baseline.services.postgres import free_port
from baseline.services.processes import ProcessFailed, Supervisor, terminate_pids
from baseline.targets.contract import ProcessRole


def _http_role(name: str, port: int) -> ProcessRole:
    return ProcessRole(
        name=name,
        argv=[sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        health_url=f"http://127.0.0.1:{port}/",
    )


def _sleeper(name: str) -> ProcessRole:
    return ProcessRole(name=name, argv=[sys.executable, "-c", "import time; time.sleep(120)"])


def test_start_health_pids_and_stop(tmp_path: Path) -> None:
    port = free_port()
    with Supervisor(tmp_path / "logs") as supervisor:
        pids = supervisor.start([_http_role("web", port), _sleeper("idle")])
        supervisor.wait_healthy(timeout_s=20)
        assert set(pids) == {"web", "idle"}
        assert all(pid_alive(pid) for pid in pids.values())
        assert os.getpgid(pids["web"]) == pids["web"], "each role leads its own process group"
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).ok
        supervisor.stop()
        assert not any(pid_alive(pid) for pid in pids.values())
        supervisor.stop()  # twice is harmless
    assert (tmp_path / "logs" / "web.log").exists()


def test_early_exit_is_reported_with_log_tail(tmp_path: Path) -> None:
    crash = ProcessRole(name="crasher", argv=[sys.executable, "-c", "print('cannot bind: boom'); raise SystemExit(3)"])
    with Supervisor(tmp_path) as supervisor:
        supervisor.start([crash, _sleeper("idle")])
        with pytest.raises(ProcessFailed) as excinfo:
            supervisor.wait_healthy(timeout_s=10)
    message = str(excinfo.value)
    assert message.startswith("crasher (pid ")
    assert "exited with code 3" in message
    assert "cannot bind: boom" in message


def test_health_timeout_names_role(tmp_path: Path) -> None:
    never = ProcessRole(name="api", argv=_sleeper("x").argv, health_url=f"http://127.0.0.1:{free_port()}/health")
    with Supervisor(tmp_path) as supervisor:
        supervisor.start([never])
        with pytest.raises(ProcessFailed, match=r"^api \(pid \d+\) was not healthy after 1 s"):
            supervisor.wait_healthy(timeout_s=1)


def test_check_alive_after_a_role_dies(tmp_path: Path) -> None:
    with Supervisor(tmp_path) as supervisor:
        pids = supervisor.start([_sleeper("worker-1"), _sleeper("worker-2")])
        supervisor.check_alive()
        os.kill(pids["worker-2"], signal.SIGKILL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                supervisor.check_alive()
            except ProcessFailed as exc:
                assert "worker-2" in str(exc)
                assert "-9" in str(exc)
                break
            time.sleep(0.05)
        else:
            pytest.fail("a killed role was not reported")


def test_missing_executable_is_a_clear_error(tmp_path: Path) -> None:
    with Supervisor(tmp_path) as supervisor, pytest.raises(ProcessFailed, match="ghost: could not start"):
        supervisor.start([ProcessRole(name="ghost", argv=["/nonexistent/tasker", "api"])])


def test_sigterm_to_harness_leaves_no_orphans() -> None:
    """A harness process running a Supervisor is SIGTERMed: it stops its children and exits 143."""
    log_dir = tempfile.mkdtemp(prefix="baseline-test-sup-")
    port = free_port()
    code = textwrap.dedent(
        f"""
        import sys, time
        from baseline.services.processes import Supervisor
        from baseline.targets.contract import ProcessRole
        sup = Supervisor({log_dir!r})
        pids = sup.start([
            ProcessRole(name="web", argv=[sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1"],
                        health_url="http://127.0.0.1:{port}/"),
            ProcessRole(name="forker", argv=["/bin/sh", "-c", "sleep 120 & sleep 120"]),
        ])
        sup.wait_healthy(timeout_s=20)
        print(" ".join(str(p) for p in pids.values()), flush=True)
        time.sleep(120)
        """
    )
    harness = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert harness.stdout is not None
        pids = [int(p) for p in harness.stdout.readline().split()]
        assert len(pids) == 2 and all(pid_alive(p) for p in pids)
        group_members = subprocess.run(["pgrep", "-g", str(pids[1])], capture_output=True, text=True).stdout.split()
        assert len(group_members) >= 2, "the forker's background child shares its group"
        harness.send_signal(signal.SIGTERM)
        assert harness.wait(timeout=20) == 128 + signal.SIGTERM
    finally:
        harness.kill()
    time.sleep(0.2)
    for pid in pids:  # reaped by the harness: gone entirely
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    for pid in map(int, group_members):  # grandchildren: killed (at most a zombie awaiting init's reaping)
        assert not pid_alive(pid)


def test_terminate_pids_respects_start_time(tmp_path: Path) -> None:
    """A recorded PID whose start time differs (reused PID) is left alone; a matching one is stopped."""
    from baseline.procfs import process_start_time

    sleeper = subprocess.Popen(_sleeper("x").argv, start_new_session=True)
    try:
        real = process_start_time(sleeper.pid)
        assert real is not None
        terminate_pids({"x": sleeper.pid}, start_times={"x": real + 1}, grace_s=1)
        assert sleeper.poll() is None
        terminate_pids({"x": sleeper.pid}, start_times={"x": real}, grace_s=1)
        assert sleeper.wait(timeout=5) == -signal.SIGTERM
    finally:
        sleeper.kill()
        sleeper.wait()
