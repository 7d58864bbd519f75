"""The compose file is valid compose-spec and complete; compose without a Docker engine fails clearly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose" / "docker-compose.yml"


def test_compose_file_matches_the_compose_spec() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok" in result.stdout


def test_compose_services_mirror_the_embedded_stack() -> None:
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    assert set(services) == {"postgres", "api", "orchestrator", "worker-1", "worker-2"}
    assert services["postgres"]["image"] == "postgres:15"
    assert "healthcheck" in services["postgres"] and "healthcheck" in services["api"]
    for name in ("api", "orchestrator", "worker-1", "worker-2"):
        assert services[name]["build"]["dockerfile"] == "compose/Dockerfile"
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["api"]["command"][0] == "api"
    assert services["postgres"]["environment"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"  # no password to leak
    assert "POSTGRES_PASSWORD" not in services["postgres"]["environment"]
    assert (ROOT / "compose" / "Dockerfile").read_text().count("FROM python:3.11") == 1


def test_compose_without_a_docker_engine_is_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock", "BASELINE_WORKDIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "baseline.cli", "up", "--services", "compose"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "services=compose needs a reachable Docker engine" in lines[0]
    assert "--services embedded" in lines[0]
