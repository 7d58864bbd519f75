"""The compose stack as data: the generated compose file (compose-spec valid, accepted by this machine's Compose), the
same roles and settings as the embedded stack, the engine image's pins, and the profiling refusals. No engine needed."""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.utils import canonicalize_name

from baseline.config import load_config
from baseline.services import docker_host, images, wheelhouse
from baseline.services.compose import project_name
from baseline.services.compose_spec import API_PORT, StackSpec, api_role, compose_spec, container_argv
from baseline.services.postgres import EmbeddedPostgres, server_settings
from baseline.targets import load_target

ROOT = Path(__file__).resolve().parents[2]


def _spec(tmp_path: Path, *, workers: int = 2, concurrency: int = 1, delay: float = 0.0) -> dict:
    roles = load_target("tasker").process_roles(
        "postgresql://postgres@postgres:5432/run_x_1", API_PORT, workers, concurrency
    )
    spec = StackSpec(
        project="baseline-test-1",
        workdir=str(tmp_path),
        postgres_image="baseline-postgres:abc",
        engine_image="baseline-engine:def",
        roles=roles,
        net_delay_ms=delay,
    )
    return compose_spec(spec)


def test_the_generated_file_is_compose_spec_and_this_machines_compose_accepts_it(tmp_path: Path) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(_spec(tmp_path, delay=1.5)))
    checked = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    try:
        tool = docker_host.compose_tool()
    except docker_host.ComposeToolMissing:
        return  # the schema check above still ran; no Compose here to ask
    config = subprocess.run([*tool.argv, "-f", str(path), "config", "-q"], capture_output=True, text=True)
    assert config.returncode == 0, config.stdout + config.stderr


def test_workers_and_their_concurrency_are_the_configs(tmp_path: Path) -> None:
    services = _spec(tmp_path, workers=3, concurrency=2)["services"]
    assert set(services) == {"postgres", "api", "orchestrator", "worker-1", "worker-2", "worker-3"}
    for name in ("worker-1", "worker-2", "worker-3"):
        assert services[name]["command"] == ["tasker", "worker", "--concurrency", "2"]
        assert services[name]["environment"]["TASKER_DATABASE_URL"] == "postgresql://postgres@postgres:5432/run_x_1"


def test_only_loopback_ports_are_published_and_the_api_listens_on_its_network(tmp_path: Path) -> None:
    services = _spec(tmp_path)["services"]
    assert services["postgres"]["ports"] == ["127.0.0.1::5432"]  # a free host port, chosen by the engine
    assert services["api"]["ports"] == ["127.0.0.1::8000"]
    assert services["api"]["command"] == ["tasker", "api", "--host", "0.0.0.0", "--port", "8000"]
    assert all("ports" not in services[name] for name in ("orchestrator", "worker-1", "worker-2"))
    assert all("healthcheck" not in service for service in services.values())  # no probe process in the window
    assert {s["labels"]["baseline.workdir"] for s in services.values()} == {str(tmp_path)}


def test_a_delay_gives_every_container_netem_rights_and_its_value(tmp_path: Path) -> None:
    services = _spec(tmp_path, delay=0.5)["services"]
    for service in services.values():
        assert service["cap_add"] == ["NET_ADMIN"]
        assert service["environment"]["BASELINE_NET_DELAY_MS"] == "0.5"
    plain = _spec(tmp_path)["services"]
    assert all("cap_add" not in s and "BASELINE_NET_DELAY_MS" not in s.get("environment", {}) for s in plain.values())


def test_each_stack_gets_its_own_project_name(tmp_path: Path) -> None:
    config = load_config(environ={"BASELINE_WORKDIR": str(tmp_path)}, cwd=ROOT)
    names = {project_name(config) for _ in range(20)}
    assert len(names) == 20
    assert all(name.startswith("baseline-") and name == name.lower() for name in names)


def test_container_commands_and_the_api_role() -> None:
    assert container_argv(["/x/venv/bin/tasker", "api", "--host", "127.0.0.1"]) == [
        "tasker",
        "api",
        "--host",
        "0.0.0.0",
    ]
    roles = load_target("tasker").process_roles("postgresql://h/db", API_PORT, 1, 1)
    assert api_role(roles).name == "api"
    with pytest.raises(ValueError, match="API port"):
        api_role([r for r in roles if r.name != "api"])


def test_the_postgres_image_has_the_embedded_clusters_settings(tmp_path: Path) -> None:
    conf = images.postgres_files()["settings.conf"]
    embedded = EmbeddedPostgres(tmp_path / "pg", port=5999).server_options()
    for key, value in server_settings().items():
        assert f"{key} = '{value}'" in conf
        assert embedded[key] == value
    assert "pg_stat_statements.track = 'top'" in conf  # not `all`: that cost the E2E chain about 6%


def _third_party_imports(package: Path) -> set[str]:
    names: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "tasker"}


def test_the_engine_images_pins_cover_every_import_of_the_engine_at_the_installed_versions() -> None:
    roots = wheelhouse.read_requirements(ROOT / "compose" / "images" / "engine-requirements.txt")
    pins = wheelhouse.pinned_closure(roots)
    distributions = metadata.packages_distributions()
    for module in _third_party_imports(ROOT / "src" / "tasker"):
        providers = {canonicalize_name(d) for d in distributions.get(module, [])}
        assert providers & set(pins), f"the engine imports {module}, which no pinned distribution provides"
    for name, version in pins.items():
        assert metadata.version(name) == version
    assert "uvloop" in pins and "psycopg-binary" in pins  # the extras ([standard], [binary]) were followed
    assert "numpy" not in pins and "docker" not in pins  # the harness's own dependencies stay out


def test_a_requirement_not_installed_here_is_bad_input(tmp_path: Path) -> None:
    listing = tmp_path / "reqs.txt"
    listing.write_text("# comment\nno-such-distribution-here\n")
    with pytest.raises(wheelhouse.BadInput, match=r"no-such-distribution-here .* not installed"):
        wheelhouse.pinned_closure(wheelhouse.read_requirements(listing))
    listing.write_text("not a requirement ===\n")
    with pytest.raises(wheelhouse.BadInput, match=r"reqs.txt:1: not a requirement"):
        wheelhouse.read_requirements(listing)


def test_profiling_is_refused_where_the_containers_processes_are_out_of_reach() -> None:
    linux = {"operating_system": "Debian GNU/Linux 12 (bookworm)", "security_options": ["name=seccomp"]}
    assert docker_host.profiling_refusal(linux, pids_visible=True) is None
    desktop = {"operating_system": "Docker Desktop", "security_options": []}
    assert "virtual machine" in (docker_host.profiling_refusal(desktop, pids_visible=True) or "")
    rootless = {"operating_system": "Ubuntu", "security_options": ["name=seccomp", "name=rootless"]}
    assert "rootless" in (docker_host.profiling_refusal(rootless, pids_visible=True) or "")
    assert "remote engine" in (docker_host.profiling_refusal(linux, pids_visible=False) or "")


def test_dockerignore_keeps_the_venvs_work_dir_and_results_out_of_a_root_build() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".nox", ".baseline", "profiles", ".git"} <= ignored
