"""Compose services on the real Docker engine: a quick compose baseline through every phase and its records, the
config's workers, two stacks at once, what a crash leaves removed by `down`, and each kind of bad input's message."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from baseline.services import docker_host

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
LABEL = "composetest"
SAMPLES = {"sql": 10, "event": 20, "task_init": 10, "e2e": 4}


def _baseline(env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "baseline.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def docker() -> Iterator[Any]:
    reason = docker_host.engine_reachable()
    if reason is not None:
        pytest.skip(f"no Docker engine reachable, so no compose stack can start here: {reason}")
    client = docker_host.client()
    yield client
    client.close()


def _containers(docker: Any, workdir: str) -> list[Any]:
    return list(docker.containers.list(all=True, filters={"label": f"baseline.workdir={workdir}"}))


# ---------------------------------------------------------------------------------------------- the baseline


@pytest.fixture(scope="module")
def compose_env(docker: Any, harness_env: Callable[..., dict[str, str]]) -> Iterator[dict[str, str]]:
    env = harness_env("compose-test", SAMPLES)
    try:
        yield env
    finally:
        _baseline(env, "down")


@pytest.fixture(scope="module")
def baseline_run(compose_env: dict[str, str]) -> Path:
    proc = _baseline(compose_env, "pipeline", "--label", LABEL, "--services", "compose", "--quick", "--runs", "1")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "compose services" in proc.stdout
    return Path(compose_env["BASELINE_OUTPUT_DIR"]) / LABEL / "run-1"


def _result(run: Path, phase: str) -> dict[str, Any]:
    return json.loads((run / f"{phase}.json").read_text())


def test_every_bench_ran_against_the_containers(baseline_run: Path) -> None:
    for phase in ("sql", "event", "task_init", "e2e"):
        doc = _result(baseline_run, phase)
        assert doc["cases"] and all(len(c["samples"]) == c["summary"]["n"] > 0 for c in doc["cases"])
        assert doc["environment"]["config"]["services"] == "compose"
        assert doc["environment"]["postgres"]["dsn"].startswith("postgresql://postgres@127.0.0.1:")
    e2e = {c["id"]: c for c in _result(baseline_run, "e2e")["cases"]}
    assert {"e2e/workflow/linear", "e2e/workflow/diamond", "worker/claim"} <= set(e2e)
    assert _result(baseline_run, "sql")["extra"]["database"]["kind"] == "private clone of the dataset template"
    manifest = json.loads((baseline_run.parent / "manifest.json").read_text())
    assert manifest["runs"]["1"]["status"] == "complete"


def test_each_phase_records_the_containers_health_cpu_and_memory(baseline_run: Path) -> None:
    for phase in ("sql", "event", "task_init", "e2e"):
        containers = _result(baseline_run, phase)["extra"]["containers"]
        assert containers["healthy"] is True, phase
        assert set(containers["roles"]) == {"postgres", "api", "orchestrator", "worker-1", "worker-2"}
        for role, entry in containers["roles"].items():
            assert entry["status"] == "running" and not entry["oom_killed"], (phase, role)
            assert entry["memory_bytes"] > 1_000_000 and entry["cpu_s"] >= 0, (phase, role)
    e2e = _result(baseline_run, "e2e")["extra"]["containers"]["roles"]
    assert all(e2e[role]["cpu_s"] > 0 for role in ("postgres", "api", "orchestrator"))  # the chain ran in them
    lifecycle = json.loads((baseline_run / "profiles" / "lifecycle.json").read_text())
    assert lifecycle["passed"] and lifecycle["postgres"] == "the run's compose server"
    assert lifecycle["containers"]["roles"]["postgres"]["cpu_s"] > 0  # the tests' databases lived there


def test_the_fingerprint_has_the_image_ids_compose_version_and_limits(baseline_run: Path, docker: Any) -> None:
    services = _result(baseline_run, "task_init")["environment"]["services"]
    tool = docker_host.compose_tool()
    assert services["compose"] == {"tool": tool.name, "version": tool.version}
    assert services["docker"]["server_version"] == docker.version()["Version"]
    assert set(services["images"]) == {"postgres", "api", "orchestrator", "worker-1", "worker-2"}
    engine_id = services["images"]["api"]
    assert all(services["images"][r] == engine_id for r in ("orchestrator", "worker-1", "worker-2"))
    assert docker.images.get(services["image_tags"]["engine"]).id == engine_id
    assert services["limits"]["postgres"]["shm_size_bytes"] == 256 * 1024 * 1024
    assert services["net_delay_ms"] == 0
    settings = _result(baseline_run, "task_init")["environment"]["postgres"]["settings"]
    assert settings["shared_buffers"] == "256MB" and settings["max_connections"] == "200"
    assert "pg_stat_statements" in settings["shared_preload_libraries"]


def test_service_containers_are_placed_but_container_backends_are_never_pinned(baseline_run: Path) -> None:
    """A container's server reports PIDs of its own namespace: pinning one by that number would move some
    unrelated host process, so the bench leaves those backends alone and says why."""
    sql = _result(baseline_run, "sql")
    assert sql["extra"]["placement"]["backends"]["sql"] == "in a container (its PID is not this host's)"
    assert sql["environment"]["placement"]["policy"] == "split"
    assert sql["environment"]["placement"]["service_threads"]["postgres"] > 0  # host PIDs from the SDK


def test_py_spy_sampled_every_service_container_from_the_host(baseline_run: Path) -> None:
    for role in ("api", "orchestrator", "worker-1", "worker-2"):
        capture = json.loads((baseline_run / "profiles" / f"e2e-{role}.capture.json").read_text())
        assert capture["samples"] > 0 and not capture["exited_during_capture"], role
        folded = (baseline_run / "profiles" / f"e2e-{role}.folded").read_text()
        assert "tasker/cli.py" in folded, role  # the engine's own frames, read across the container boundary


def test_nothing_is_left_after_the_pipeline(baseline_run: Path, compose_env: dict[str, str], docker: Any) -> None:
    workdir = compose_env["BASELINE_WORKDIR"]
    assert _containers(docker, workdir) == []
    assert not list(Path(workdir, "compose").glob("*/docker-compose.yml"))
    assert not Path(workdir, "state.json").exists()
    assert Path(workdir, "logs", "api.log").is_file()  # the containers' output outlives them


# ---------------------------------------------------------------------------------------------- stacks by hand


@pytest.fixture
def two_envs(docker: Any, harness_env: Callable[..., dict[str, str]]) -> Iterator[list[dict[str, str]]]:
    envs = [harness_env(f"compose-{i}", SAMPLES) for i in (1, 2)]
    try:
        yield envs
    finally:
        for env in envs:
            _baseline(env, "down")


def _state(env: dict[str, str]) -> dict[str, Any]:
    return json.loads(Path(env["BASELINE_WORKDIR"], "state.json").read_text())


def test_two_stacks_at_once_with_the_configs_workers_and_host_pids(docker: Any, two_envs: list[dict[str, str]]) -> None:
    first, second = two_envs
    second.update(BASELINE_WORKERS="3", BASELINE_WORKER_CONCURRENCY="2")
    for env in two_envs:
        proc = _baseline(env, "up", "--services", "compose", "--quick")
        assert proc.returncode == 0, proc.stdout + proc.stderr
    a, b = _state(first), _state(second)
    assert a["project"] != b["project"] and a["port"] != b["port"] and a["api_url"] != b["api_url"]
    assert set(a["pids"]) == {"postgres", "api", "orchestrator", "worker-1", "worker-2"}
    assert set(b["pids"]) == {"postgres", "api", "orchestrator", "worker-1", "worker-2", "worker-3"}
    for state in (a, b):
        with psycopg.connect(state["dsn"]) as conn:
            assert conn.execute("SELECT count(*) FROM tasks").fetchone()[0] > 0  # a clone of the seeded template
            track = conn.execute("SHOW pg_stat_statements.track").fetchone()[0]
            assert track == "top"
    for role, pid in b["pids"].items():
        container = docker.containers.list(
            filters={"label": [f"com.docker.compose.project={b['project']}", f"baseline.role={role}"]}
        )[0]
        assert container.attrs["State"]["Pid"] == pid
        assert b["start_times"][role] is not None
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if role.startswith("worker"):
            assert cmdline[-3:-1] == [b"--concurrency", b"2"], cmdline
    status = _baseline(second, "status")
    assert status.returncode == 0 and "healthy" in status.stdout


def test_down_removes_a_stack_whose_record_a_crash_lost(docker: Any, two_envs: list[dict[str, str]]) -> None:
    env = two_envs[0]
    assert _baseline(env, "up", "--services", "compose", "--quick").returncode == 0
    project = _state(env)["project"]
    Path(env["BASELINE_WORKDIR"], "state.json").unlink()  # as if the process died before recording it
    assert _containers(docker, env["BASELINE_WORKDIR"])
    proc = _baseline(env, "down")
    assert proc.returncode == 0 and "stopped" in proc.stdout, proc.stdout + proc.stderr
    assert f"removing compose project {project} (left by an earlier run)" in proc.stderr
    assert _containers(docker, env["BASELINE_WORKDIR"]) == []
    assert docker.volumes.list(filters={"label": f"com.docker.compose.project={project}"}) == []


def test_a_stack_a_killed_run_left_recorded_is_replaced_by_the_next_start(
    docker: Any, two_envs: list[dict[str, str]]
) -> None:
    env = two_envs[0]
    assert _baseline(env, "up", "--services", "compose", "--quick").returncode == 0
    state = _state(env)
    old = state["project"]
    state["owner_pid"] = 2**22 + 1  # above any pid_max: the owner, a killed pipeline, is gone
    Path(env["BASELINE_WORKDIR"], "state.json").write_text(json.dumps(state))
    assert _baseline(env, "up", "--services", "compose", "--quick").returncode == 0
    assert _state(env)["project"] != old
    projects = {c.labels["com.docker.compose.project"] for c in _containers(docker, env["BASELINE_WORKDIR"])}
    assert projects == {_state(env)["project"]}


# ---------------------------------------------------------------------------------------------- bad input


def _one_line_failure(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if not line.startswith("[baseline]")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_no_docker_engine_says_how_to_get_one(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock", "BASELINE_WORKDIR": str(tmp_path)}
    line = _one_line_failure(_baseline(env, "up", "--services", "compose"))
    assert "no Docker engine" in line and "does not exist" in line and "--services embedded" in line


def test_a_stopped_daemon_says_to_start_it(tmp_path: Path) -> None:
    path = tmp_path / "docker.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))  # bound, never listening: what a dead daemon leaves behind
    try:
        env = {**os.environ, "DOCKER_HOST": f"unix://{path}", "BASELINE_WORKDIR": str(tmp_path)}
        line = _one_line_failure(_baseline(env, "up", "--services", "compose"))
    finally:
        stale.close()
    assert "the Docker daemon is not running" in line and "systemctl start docker" in line


def test_a_delay_without_compose_services_is_bad_input(tmp_path: Path) -> None:
    env = {**os.environ, "BASELINE_WORKDIR": str(tmp_path)}
    proc = _baseline(env, "up", "--net-delay-ms", "2")
    assert proc.returncode == 2 and "needs --services compose" in proc.stderr


def test_profiling_processes_this_host_cannot_see_is_refused_saying_why(docker: Any) -> None:
    from baseline.services.control import check_profilable
    from baseline.services.docker_host import ProfilingRefused
    from baseline.services.model import Stack

    unseen = 2**22 + 1  # above any pid_max: a PID of another machine's process table
    stack = Stack(
        services="compose",
        target="tasker",
        dsn="",
        admin_dsn="",
        api_url="",
        database="",
        project="elsewhere",
        pids={"postgres": unseen + 1, "api": unseen},
        start_times={"postgres": None, "api": None},
    )
    with pytest.raises(ProfilingRefused, match=r"not in this machine's process table.*--services embedded"):
        check_profilable(stack, stack.service_pids())
    check_profilable(stack, {"bench": os.getpid()})  # the bench profiling itself needs no container
