"""Compose services: the embedded stack's database and processes in containers, one compose project per stack.

Per stack: the images are checked (built only when their inputs changed, see images.py), a compose file is
generated into <workdir>/compose/<project>/ (compose_spec.py), the database container starts, the harness builds the
seeded template database in it from the host and clones the run's database from that template as the embedded
provider does, then the target's processes start in their own containers. Each project has a unique name and free
host ports, so two stacks can run at once. A project folder that outlives its stack (a crash) is found and removed by
the next start or `down`.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg
import requests
import yaml

from baseline.config import Config
from baseline.console import say
from baseline.procfs import pid_alive
from baseline.services import containers, images
from baseline.services.compose_spec import (
    API_PORT,
    PG_PORT,
    POSTGRES,
    StackSpec,
    api_role,
    compose_spec,
)
from baseline.services.docker_host import ComposeTool, client, compose_tool, describe_engine, profiling_refusal
from baseline.services.embedded import ensure_template, fresh_run_database, run_database_name
from baseline.services.model import Stack, StackError
from baseline.services.postgres import SUPERUSER, PostgresServer
from baseline.store import write_json_atomic, write_text_atomic
from baseline.targets.contract import ProcessRole, Target

START_TIMEOUT_S = 90.0
SETTLE_S = 0.5  # a role without a health URL must stay up this long
STOP_TIMEOUT_S = 10
COMPOSE_FILE = "docker-compose.yml"
STACK_FILE = "stack.json"
_NO_NETEM = "qdisc kind is unknown"


def stacks_dir(config: Config) -> Path:
    return config.workdir / "compose"


def logs_dir(config: Config) -> Path:
    return config.workdir / "logs"


def project_name(config: Config) -> str:
    """baseline-<work dir hash>-<random>: unique per stack, and tells which work dir a project belongs to."""
    return f"baseline-{hashlib.sha256(str(config.workdir).encode()).hexdigest()[:6]}-{secrets.token_hex(3)}"


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Project:
    """One compose project's folder (its compose file, compose's output, stack.json) and the commands on it."""

    def __init__(self, folder: Path, tool: ComposeTool) -> None:
        self.folder, self.tool = folder, tool
        self.name = folder.name

    @property
    def file(self) -> Path:
        return self.folder / COMPOSE_FILE

    @property
    def log(self) -> Path:
        return self.folder / "compose.log"

    def run(self, *args: str, timeout: float = 300) -> None:
        command = [*self.tool.argv, "-p", self.name, "-f", str(self.file), *args]
        with open(self.log, "a") as handle:
            handle.write(f"$ {' '.join(command)}\n")
            handle.flush()
            try:
                result = subprocess.run(
                    command, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout
                )
            except subprocess.TimeoutExpired:
                raise StackError(
                    f"`{self.tool.name} {' '.join(args)}` did not finish in {timeout:.0f} s; log: {self.log}"
                ) from None
        if result.returncode != 0:
            tail = "\n".join(self.log.read_text(errors="replace").strip().splitlines()[-12:])
            raise StackError(
                f"`{self.tool.name} {' '.join(args)}` failed (exit {result.returncode}) for project {self.name}; "
                f"log: {self.log}\n{tail}"
            )

    def down(self) -> None:
        self.run("down", "-v", "--remove-orphans", "-t", str(STOP_TIMEOUT_S))


# ---------------------------------------------------------------------------------------------- start-up


def _role_failed(config: Config, docker: Any, project: str, role: str, what: str) -> StackError:
    """A StackError naming the role, what happened, its log (dumped now) and, for a netem failure, the fix."""
    found = containers.project_containers(docker, project)
    written = containers.dump_logs(found, logs_dir(config))
    log = written.get(role)
    text = log.read_text(errors="replace") if log else ""
    tail = "\n".join(f"    {line}" for line in text.strip().splitlines()[-15:]) or "    (the log is empty)"
    hint = ""
    if _NO_NETEM in text:
        hint = (
            "\n--net-delay-ms needs tc's netem qdisc, and the Docker host's kernel has none (CONFIG_NET_SCH_NETEM "
            "is off or the sch_netem module is not loaded): `modprobe sch_netem` on the host, or run without "
            "--net-delay-ms."
        )
    return StackError(f"compose service {role} {what}; last lines of {log}:\n{tail}{hint}")


def _exited(docker: Any, project: str) -> dict[str, int | None]:
    """Role -> exit code of every container of the project that is not running."""
    out: dict[str, int | None] = {}
    for role, container in containers.project_containers(docker, project).items():
        container.reload()
        st = containers.state(container)
        if not st["running"]:
            out[role] = st["exit_code"]
    return out


def _fail_if_exited(config: Config, docker: Any, project: str) -> None:
    exited = _exited(docker, project)
    for role in sorted(exited):
        raise _role_failed(config, docker, project, role, f"exited with code {exited[role]} while starting")


def _wait(config: Config, docker: Any, project: str, ready: dict[str, Any], timeout_s: float = START_TIMEOUT_S) -> None:
    """Poll until every role's check holds; fail naming the first container that exited or never got ready."""
    started = time.monotonic()
    pending = dict(ready)
    while pending:
        _fail_if_exited(config, docker, project)
        for role in sorted(pending):
            with contextlib.suppress(Exception):
                if pending[role]():
                    del pending[role]
        if not pending:
            break
        if time.monotonic() - started > timeout_s:
            role = sorted(pending)[0]
            raise _role_failed(config, docker, project, role, f"was not ready after {timeout_s:.0f} s")
        time.sleep(0.1)


def _database_answers(dsn: str) -> bool:
    with psycopg.connect(dsn, connect_timeout=2) as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)


def _http_ok(url: str) -> bool:
    return requests.get(url, timeout=1.0).ok


def _settled(since: float) -> bool:
    return time.monotonic() - since >= SETTLE_S


def _role_checks(roles: list[ProcessRole], api: ProcessRole, api_url: str) -> dict[str, Any]:
    """The API answers its health path through the published port; the other roles stay up for SETTLE_S."""
    from urllib.parse import urlsplit

    started = time.monotonic()
    path = urlsplit(api.health_url or "/").path or "/"
    checks: dict[str, Any] = {role.name: (lambda: _settled(started)) for role in roles}
    checks[api.name] = lambda: _http_ok(f"{api_url}{path}")
    return checks


def _write_project(config: Config, project: Project, spec: StackSpec, tool: ComposeTool, built: dict[str, Any]) -> None:
    project.folder.mkdir(parents=True, exist_ok=True)
    header = f"# Generated by `baseline` for one stack (project {spec.project}); removed with it.\n"
    write_text_atomic(project.file, header + yaml.safe_dump(compose_spec(spec), sort_keys=False))
    write_json_atomic(
        project.folder / STACK_FILE,
        {
            "project": spec.project,
            "compose": tool.describe(),
            "images": {kind: {"tag": image.tag, "id": image.id} for kind, image in built.items()},
            "net_delay_ms": spec.net_delay_ms,
            "workdir": spec.workdir,
        },
    )


class ComposeRunning:
    """A compose project this process started: stopped with `down -v` (its database volume goes with it)."""

    def __init__(self, stack: Stack, config: Config, project: Project) -> None:
        self.stack, self.config, self.project = stack, config, project

    def check_alive(self) -> None:
        docker = client()
        try:
            exited = _exited(docker, self.project.name)
            for role in sorted(exited):
                raise _role_failed(self.config, docker, self.project.name, role, f"exited with code {exited[role]}")
        finally:
            docker.close()

    def stop(self) -> None:
        _remove(self.config, self.project)

    def detach(self) -> None:
        return None


def _remove(config: Config, project: Project) -> None:
    """Keep each container's log in <workdir>/logs, `down -v`, then forget the project's folder."""
    with contextlib.suppress(StackError):
        docker = client()
        try:
            containers.dump_logs(containers.project_containers(docker, project.name), logs_dir(config))
        finally:
            docker.close()
    if project.file.exists():
        project.down()
    shutil.rmtree(project.folder, ignore_errors=True)


class ComposeProvider:
    kind = "compose"

    def start(self, config: Config, target: Target, *, port: int | None = None) -> ComposeRunning:
        """Images -> database container -> template and run database from the host -> the target's containers."""
        docker = client()
        tool = compose_tool()
        try:
            built = images.ensure_images(config, docker)
            name = project_name(config)
            project = Project(stacks_dir(config) / name, tool)
            database = run_database_name(config.label, config.run)
            inner_dsn = f"postgresql://{SUPERUSER}@{POSTGRES}:{PG_PORT}/{database}"
            roles = target.process_roles(inner_dsn, API_PORT, config.workers, config.worker_concurrency)
            api = api_role(roles)
            spec = StackSpec(
                project=name,
                workdir=str(config.workdir),
                postgres_image=built["postgres"].tag,
                engine_image=built["engine"].tag,
                roles=roles,
                pg_host_port=port if port and _port_is_free(port) else None,
                net_delay_ms=config.net_delay_ms,
            )
            _write_project(config, project, spec, tool, built)
            try:
                stack = self._up(config, target, docker, project, roles, api)
            except BaseException:
                with contextlib.suppress(StackError):
                    _remove(config, project)
                raise
        finally:
            docker.close()
        return ComposeRunning(stack, config, project)

    def _up(
        self, config: Config, target: Target, docker: Any, project: Project, roles: list[ProcessRole], api: ProcessRole
    ) -> Stack:
        project.run("up", "-d", "--no-build", POSTGRES)
        _fail_if_exited(config, docker, project.name)
        found = containers.project_containers(docker, project.name)
        pg_port = containers.published_port(found[POSTGRES], PG_PORT)
        if pg_port is None:
            raise _role_failed(config, docker, project.name, POSTGRES, f"published no host port for {PG_PORT}")
        server = PostgresServer(f"postgresql://{SUPERUSER}@127.0.0.1:{pg_port}/postgres")
        _wait(config, docker, project.name, {POSTGRES: lambda: _database_answers(server.admin_dsn)})
        template, info = ensure_template(config, server, target)
        database, dsn = fresh_run_database(config, server, template)
        project.run("up", "-d", "--no-build", *(role.name for role in roles))
        _fail_if_exited(config, docker, project.name)
        found = containers.project_containers(docker, project.name)
        api_port = containers.published_port(found[api.name], API_PORT)
        if api_port is None:
            raise _role_failed(config, docker, project.name, api.name, f"published no host port for {API_PORT}")
        api_url = f"http://127.0.0.1:{api_port}"
        _wait(config, docker, project.name, _role_checks(roles, api, api_url))
        pids, start_times = containers.host_pids(containers.project_containers(docker, project.name))
        if config.net_delay_ms > 0:
            say(f"compose stack {project.name}: every container delays its packets by {config.net_delay_ms:g} ms")
        return Stack(
            services=self.kind,
            target=config.target,
            dsn=dsn,
            admin_dsn=server.admin_dsn,
            api_url=api_url,
            database=database,
            pids={POSTGRES: pids.pop(POSTGRES), **{role.name: pids[role.name] for role in roles}},
            start_times=start_times,
            template=template,
            port=pg_port,
            dataset=info.get("counts", {}) if isinstance(info, dict) else {},
            label=config.label,
            run=config.run,
            dataset_scale=config.dataset_scale,
            dataset_seed=config.dataset_seed,
            logs_dir=str(logs_dir(config)),
            project=project.name,
            net_delay_ms=config.net_delay_ms,
        )

    def stop_recorded(self, config: Config, stack: Stack | None) -> bool:
        """`down -v` the recorded stack's project and every project folder of this work dir a crash left behind."""
        folders = {p.parent for p in stacks_dir(config).glob(f"*/{COMPOSE_FILE}")}
        if stack is not None and stack.project:
            folders.add(stacks_dir(config) / stack.project)
        if not folders:
            return False
        tool = compose_tool()
        stopped = False
        for folder in sorted(folders):
            project = Project(folder, tool)
            if not project.file.exists():
                continue
            say(f"removing compose project {project.name}" + ("" if stack else " (left by an earlier run)"))
            _remove(config, project)
            stopped = True
        return stopped


# ---------------------------------------------------------------------------------------------- descriptions


def describe(config: Config, stack: Stack) -> dict[str, Any]:
    """For the environment fingerprint: the compose tool, the engine, each container's image id and limits."""
    if not stack.project:
        return {}
    record: dict[str, Any] = {}
    with contextlib.suppress(Exception):
        from baseline.results import read_json

        loaded = read_json(stacks_dir(config) / stack.project / STACK_FILE)
        record = loaded if isinstance(loaded, dict) else {}
    docker = client()
    try:
        found = containers.project_containers(docker, stack.project)
        return {
            "provider": "compose",
            "project": stack.project,
            "compose": record.get("compose"),
            "docker": describe_engine(docker),
            "images": {role: c.attrs.get("Image") for role, c in sorted(found.items())},
            "image_tags": {kind: image.get("tag") for kind, image in (record.get("images") or {}).items()},
            "limits": {role: containers.limits(c) for role, c in sorted(found.items())},
            "net_delay_ms": record.get("net_delay_ms", 0.0),
        }
    finally:
        docker.close()


def refusal(stack: Stack) -> str | None:
    """Why py-spy here cannot attach to this compose stack's processes, None when it can."""
    docker = client()
    try:
        engine = describe_engine(docker)
    finally:
        docker.close()
    roles = stack.service_pids()
    visible = bool(roles) and all(
        stack.start_times.get(role) is not None and pid_alive(pid, stack.start_times.get(role))
        for role, pid in roles.items()
    )
    return profiling_refusal(engine, visible)
