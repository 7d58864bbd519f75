"""The compose images on the real Docker engine: built without a registry, cached by their inputs, settings from the
embedded cluster's source, no network inside a build, and a failed build naming its log."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from baseline.config import Config, load_config
from baseline.services import docker_host, images

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def docker() -> Iterator[Any]:
    reason = docker_host.engine_reachable()
    if reason is not None:
        pytest.skip(f"no Docker engine reachable, so the compose images cannot be built here: {reason}")
    client = docker_host.client()
    yield client
    client.close()


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return load_config(environ={"BASELINE_WORKDIR": str(tmp_path_factory.mktemp("images-work"))}, cwd=ROOT)


@pytest.fixture(scope="module")
def built(docker: Any, config: Config) -> dict[str, images.Image]:
    return images.ensure_images(config, docker)  # builds whatever .ci/run has not built yet


def test_a_second_check_builds_nothing_and_takes_seconds(docker: Any, config: Config, built: dict) -> None:
    started = time.monotonic()
    again = images.ensure_images(config, docker)
    assert time.monotonic() - started < 10
    assert not any(image.built for image in again.values())
    assert {kind: image.id for kind, image in again.items()} == {kind: image.id for kind, image in built.items()}
    for kind, image in again.items():
        labels = docker.images.get(image.tag).labels or {}
        assert image.tag.split(":")[1] == labels[images.INPUTS_LABEL][:12], kind  # the tag is the inputs' hash


def test_the_images_come_from_debian_packages_and_the_hosts_wheels(docker: Any, built: dict) -> None:
    engine = docker.containers.run(
        built["engine"].tag,
        [
            "sh",
            "-c",
            "cat /etc/debian_version; tasker --help | head -1; python -c 'import psycopg; print(psycopg.__version__)'",
        ],
        network_mode="none",
        remove=True,
    ).decode()
    import psycopg

    assert engine.splitlines()[0].startswith("12.")  # bookworm
    assert "usage: tasker" in engine
    assert engine.splitlines()[-1] == psycopg.__version__  # the version the host's environment runs


def test_the_postgres_image_carries_the_shared_settings(docker: Any, built: dict) -> None:
    conf = docker.containers.run(
        built["postgres"].tag,
        ["cat", "/var/lib/postgresql/data/postgresql.conf", "/var/lib/postgresql/data/PG_VERSION"],
        network_mode="none",
        remove=True,
    ).decode()
    assert images.postgres_files()["settings.conf"] in conf
    assert conf.strip().splitlines()[-1] == "15"


def _context(tmp_path: Path, dockerfile: str) -> Path:
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    return context


def test_a_failed_build_names_its_log(docker: Any, built: dict, tmp_path: Path) -> None:
    context = _context(tmp_path, "ARG BASE\nFROM ${BASE}\nRUN echo about to fail && false\n")
    log = tmp_path / "build.log"
    with pytest.raises(images.ImageBuildError) as failed:
        images._build(docker, context, "baseline-test-failing:1", built["base"], "0" * 64, log)
    message = str(failed.value)
    assert f"full log: {log}" in message
    assert "about to fail" in log.read_text()


def test_no_build_step_reaches_the_network(docker: Any, built: dict, tmp_path: Path) -> None:
    probe = "import socket; socket.create_connection(('deb.debian.org', 80), timeout=5)"
    context = _context(tmp_path, f'ARG BASE\nFROM ${{BASE}}\nRUN python3 -c "{probe}"\n')
    with pytest.raises(images.ImageBuildError, match="full log"):
        images._build(docker, context, "baseline-test-offline:1", built["base"], "0" * 64, tmp_path / "net.log")
    assert "gaierror" in (tmp_path / "net.log").read_text() or "unreachable" in (tmp_path / "net.log").read_text()


def test_a_mirror_that_cannot_be_reached_fails_the_base_build_with_its_log(
    docker: Any, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(images.MIRROR_ENV, "http://127.0.0.1:9/debian")  # nothing listens on the discard port
    with pytest.raises(images.ImageBuildError) as failed:
        images.ensure_base(config, docker)
    message = str(failed.value)
    assert "mmdebstrap" in message and images.MIRROR_ENV in message
    log = images.images_dir(config) / "logs" / "base.log"
    assert f"full log: {log}" in message and log.stat().st_size > 0


def test_a_missing_mmdebstrap_is_bad_input_naming_the_install(
    docker: Any, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(images.MIRROR_ENV, "http://127.0.0.1:9/other")  # inputs no image was built from
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    with pytest.raises(images.BuildToolMissing, match="apt-get install mmdebstrap"):
        images.ensure_base(config, docker)
