"""The embedded stack with the real engine: up/down, state-file reuse, own-start cleanup, SIGTERM, failures.

Small dataset (200 tasks) in a module-wide work dir so the template database is built once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import psycopg.conninfo
import pytest
import requests

from baseline.config import Config, load_config
from baseline.procfs import pid_alive
from baseline.services.control import down, ensure_stack, owned_stack, up
from baseline.services.embedded import cluster_of
from baseline.services.model import Stack
from baseline.services.state import read_state, stack_health
from baseline.store import LOCK_ENV
from baseline.targets import load_target

TARGET = load_target("tasker")

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LINEAR = {"namespace": "linear_workflow", "name": "mathematical_sequence", "version": "1.0.0"}


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    # Not tmp_path: the unprivileged PostgreSQL account must be able to enter it.
    path = Path(tempfile.mkdtemp(prefix="baseline-test-stack-"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        down(_config(path))
        shutil.rmtree(path, ignore_errors=True)


def _env(workdir: Path) -> dict[str, str]:
    return {"BASELINE_WORKDIR": str(workdir / "state"), "BASELINE_OUTPUT_DIR": str(workdir / "profiles")}


def _config(workdir: Path, **args: object) -> Config:
    return load_config({"label": "stacktest", "quick": True, "scale": 200, **args}, environ=_env(workdir))


def _all_gone(pids: dict[str, int]) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not any(pid_alive(pid) for pid in pids.values()):
            return True
        time.sleep(0.1)
    return False


def _run_linear_task(api_url: str) -> dict:
    body = {**LINEAR, "context": {"even_number": 6}}
    created = requests.post(f"{api_url}/v1/tasks", json=body, timeout=10)
    assert created.status_code == 201, created.text
    uuid = created.json()["task_uuid"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        task = requests.get(f"{api_url}/v1/tasks/{uuid}", timeout=10).json()
        if task["status"] == "complete":
            return task
        time.sleep(0.1)
    pytest.fail(f"task {uuid} did not complete: {task}")


def test_up_status_reuse_fresh_clone_down(workdir: Path) -> None:
    config = _config(workdir)
    stack = up(config, TARGET)
    try:
        assert stack.owner_pid is None and stack.services == "embedded"  # `up` leaves it to whoever stops it
        assert set(stack.pids) == {"postgres", "api", "orchestrator", "worker-1", "worker-2"}
        assert stack.database == "run_stacktest_1"
        assert stack.template and stack.template.startswith("tpl_tasker_200_42_")
        assert stack_health(stack)["healthy"]
        assert json.loads((config.workdir / "state.json").read_text())["pids"] == stack.pids
        task = _run_linear_task(stack.api_url)
        assert [s["results"] for s in sorted(task["steps"], key=lambda s: s["name"])][-1] == 2821109907456
        assert _task_count(stack.dsn) == 201  # the dataset plus the one task above

        with ensure_stack(config, TARGET) as reused:  # a live recorded stack is reused and left running
            assert reused.owner_pid is None
            assert reused.pids == stack.pids
        assert all(pid_alive(pid) for pid in stack.pids.values())

        _check_external_view_of(stack, workdir)

        second = up(config, TARGET)  # replaces the running stack and re-clones the run database from the template
        assert _task_count(second.dsn) == 200
        assert second.port == stack.port  # the cluster comes back on its previous port: stable DSNs
        assert _all_gone({role: pid for role, pid in stack.pids.items() if role != "postgres"})
        stack = second
    finally:
        assert down(config) is True
    assert _all_gone(stack.pids)
    assert read_state(config) is None
    assert down(config) is False  # twice is harmless


def _check_external_view_of(stack: Stack, workdir: Path) -> None:
    """The running stack seen as `external` services: checked, used, never stopped; its password never stored."""
    passfile = psycopg.conninfo.conninfo_to_dict(stack.dsn)["passfile"]
    secret = Path(str(passfile)).read_text().strip().rsplit(":", 1)[1]  # an external DSN carries its password
    dsn = stack.dsn.split("?")[0].replace("postgresql://postgres@", f"postgresql://postgres:{secret}@")
    env = {"BASELINE_WORKDIR": str(workdir / "external"), "BASELINE_OUTPUT_DIR": str(workdir / "profiles")}
    config = load_config({"services": "external", "dsn": dsn, "api_url": stack.api_url}, environ=env)
    with ensure_stack(config, TARGET) as external:
        assert (external.services, external.owner_pid, external.pids) == ("external", None, {})
        assert external.dsn == dsn
    recorded = up(config, TARGET)
    assert recorded.services == "external"
    state_text = (workdir / "external" / "state.json").read_text()
    assert secret not in state_text and stack.api_url in state_text
    with ensure_stack(config, TARGET) as again:  # the state file's redacted DSN is not what the benches get
        assert again.dsn == dsn
    down(config)
    assert not (workdir / "external" / "state.json").exists()
    assert stack_health(stack)["healthy"], "external services are never stopped"


def _task_count(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM tasks").fetchone()
    assert row is not None
    return int(row[0])


def test_ensure_stack_starts_its_own_and_stops_it_even_on_errors(workdir: Path) -> None:
    config = _config(workdir, run=3)
    pids: dict[str, int] = {}
    with pytest.raises(RuntimeError, match="bench blew up"), ensure_stack(config, TARGET) as stack:
        assert stack.owner_pid == os.getpid()
        assert stack_health(stack)["healthy"]
        pids = dict(stack.pids)
        raise RuntimeError("bench blew up")
    assert pids and _all_gone(pids)
    assert read_state(config) is None


def test_a_stack_a_running_pipeline_owns_is_refused_to_commands_it_did_not_start(workdir: Path) -> None:
    """A bench started beside a pipeline would load its services while it measures: refused before it does
    anything. The pipeline's own phase processes (its pid in the label-lock variable) use the stack."""
    config = _config(workdir, run=6)
    env = {**os.environ, **_env(workdir), "BASELINE_SCALE": "200", "BASELINE_SAMPLES_EVENT": "5"}
    env.pop(LOCK_ENV, None)
    bench = [sys.executable, "-m", "baseline.cli", "event-bench", "--label", "beside", "--quick"]
    with owned_stack(config, TARGET) as stack:
        assert stack.owner_pid == os.getpid()
        refused = subprocess.run(bench, env=env, capture_output=True, text=True, timeout=120)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert f"belong to a running pipeline (pid {os.getpid()}, label stacktest, run 6)" in refused.stderr
        assert not list((workdir / "profiles").rglob("event.json"))
        child_env = {**env, LOCK_ENV: f"{config.label_dir / '.lock'}:{os.getpid()}"}
        ran = subprocess.run(bench, env=child_env, capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert len(list((workdir / "profiles").rglob("event.json"))) == 1
        assert stack_health(stack)["healthy"]


def test_sigterm_during_ensure_stack_leaves_nothing_running(workdir: Path) -> None:
    env = {**os.environ, **_env(workdir)}
    code = textwrap.dedent(
        """
        import json, time
        from baseline.config import load_config
        from baseline.services.control import ensure_stack
        from baseline.targets import load_target
        config = load_config({"label": "stacktest", "run": 5, "quick": True, "scale": 200})
        with ensure_stack(config, load_target("tasker")) as stack:
            print(json.dumps(stack.pids), flush=True)
            time.sleep(120)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None
        pids = json.loads(child.stdout.readline())
        assert len(pids) == 5
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        child.kill()
    assert _all_gone(pids), {role: pid for role, pid in pids.items() if pid_alive(pid)}


def test_engine_that_cannot_start_is_reported(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A role that dies during start-up fails `up` with its name and log tail, and nothing is left running."""
    from baseline.services.processes import ProcessFailed
    from baseline.targets.tasker import processes as tasker_processes

    real = tasker_processes.process_roles

    def broken(dsn: str, api_port: int, workers: int, worker_concurrency: int, **kwargs):  # type: ignore[no-untyped-def]
        roles = real(dsn, api_port, workers, worker_concurrency, **kwargs)
        orchestrator = roles[1]
        bad = type(orchestrator)(name="orchestrator", argv=[*orchestrator.argv, "--no-such-option"], env={})
        return [roles[0], bad, *roles[2:]]

    monkeypatch.setattr(tasker_processes, "process_roles", broken)
    config = _config(workdir, run=6)
    with pytest.raises(ProcessFailed) as excinfo:
        up(config, TARGET)
    assert "orchestrator" in str(excinfo.value)
    assert "no-such-option" in str(excinfo.value)
    assert read_state(config) is None
    assert not cluster_of(config).running()
