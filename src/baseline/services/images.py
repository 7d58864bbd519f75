"""The compose stack's images, built here without a registry and cached by a hash of their inputs.

- base: Debian bookworm (minbase and compose/images/base.packages) made by mmdebstrap into a tarball, then
  `docker import`ed: nothing is pulled from a registry.
- postgres: the base with a cluster initdb'd at build time, initdb options and server settings generated from
  baseline.services.postgres, the embedded cluster's own.
- engine: the base with the project's wheel and the engine's dependencies from a wheelhouse built on the host.

The two service images are built with `network_mode=none`: no step needs the network. Each image's tag is a hash of
its inputs (its parent's id included), so an image is rebuilt only when one of them changed, and a check that finds
every tag costs a few Docker calls. Build logs go to <workdir>/images/logs/.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baseline.config import Config
from baseline.console import say
from baseline.errors import BadInput, Failure
from baseline.services import wheelhouse
from baseline.services.compose_spec import PG_PORT
from baseline.services.postgres import INITDB_OPTIONS, server_settings

SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
MIRROR_ENV = "BASELINE_DEBIAN_MIRROR"
REPOSITORY = {"base": "baseline-base", "postgres": "baseline-postgres", "engine": "baseline-engine"}
INPUTS_LABEL = "baseline.inputs"
# postgresql-common would create and start a cluster of its own while the package installs.
_NO_MAIN_CLUSTER = (
    'mkdir -p "$1/etc/postgresql-common" && echo "create_main_cluster = false" '
    '> "$1/etc/postgresql-common/createcluster.conf"'
)


class ImageBuildError(Failure):
    """An image could not be built; the message names the step and the full build log."""


class BuildToolMissing(BadInput):
    """mmdebstrap is not installed; the message says how to install it."""


@dataclass(frozen=True)
class Image:
    """One image of the stack: its tag (repository:hash of inputs), id, and whether this call built it."""

    kind: str
    tag: str
    id: str
    built: bool
    seconds: float


def images_dir(config: Config) -> Path:
    return config.workdir / "images"


def compose_dir(config: Config) -> Path:
    return config.project_root / "compose" / "images"


def _digest(parts: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _tree_digest(root: Path, *, skip: tuple[str, ...] = ("__pycache__",)) -> str:
    """sha256 over the files under `root` (relative paths and bytes), in a stable order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not any(s in p.parts for s in skip)):
        if path.suffix in (".pyc", ".pyo"):
            continue
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _existing(client: Any, tag: str) -> Any | None:
    from docker.errors import ImageNotFound

    try:
        return client.images.get(tag)
    except ImageNotFound:
        return None


def _prune(client: Any, kind: str, keep: str) -> None:
    """Older images of the same kind are never used again; those no container uses are removed."""
    from docker.errors import APIError

    for image in client.images.list(name=REPOSITORY[kind]):
        if keep not in image.tags:
            with contextlib.suppress(APIError):
                client.images.remove(image.id)


@contextlib.contextmanager
def _timed(tag: str, log: Path) -> Iterator[Callable[[], float]]:
    started = time.monotonic()
    say(f"building image {tag} (log: {log})")
    yield lambda: time.monotonic() - started


# ---------------------------------------------------------------------------------------------- base


def base_inputs(config: Config) -> dict[str, Any]:
    packages = list_lines(compose_dir(config) / "base.packages")
    return {
        "suite": SUITE,
        "variant": "minbase",
        "mirror": os.environ.get(MIRROR_ENV, DEFAULT_MIRROR),
        "packages": packages,
        "setup_hook": _NO_MAIN_CLUSTER,
    }


def list_lines(path: Path) -> list[str]:
    """Non-comment, non-blank lines of a list file."""
    return [line.split("#", 1)[0].strip() for line in path.read_text().splitlines() if line.split("#", 1)[0].strip()]


def _run_logged(command: list[str], log: Path, what: str) -> None:
    with open(log, "a") as handle:
        handle.write(f"$ {' '.join(command)}\n")
        handle.flush()
        result = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").strip().splitlines()[-12:])
        raise ImageBuildError(f"{what} failed (exit {result.returncode}); full log: {log}\n{tail}")


def ensure_base(config: Config, client: Any) -> Image:
    inputs = base_inputs(config)
    digest = _digest(inputs)
    tag = f"{REPOSITORY['base']}:{digest[:12]}"
    found = _existing(client, tag)
    if found is not None:
        return Image("base", tag, found.id, False, 0.0)
    tool = shutil.which("mmdebstrap")
    if tool is None:
        raise BuildToolMissing(
            "building the compose base image needs mmdebstrap, which is not installed: apt-get install mmdebstrap"
        )
    work = images_dir(config)
    log = _fresh_log(config, "base")
    tarball = work / "base.tar"
    with _timed(tag, log) as elapsed:
        try:
            _run_logged(
                [
                    tool,
                    "--variant=minbase",
                    f"--include={','.join(inputs['packages'])}",
                    f"--setup-hook={_NO_MAIN_CLUSTER}",
                    SUITE,
                    str(tarball),
                    inputs["mirror"],
                ],
                log,
                f"mmdebstrap of the base image from {inputs['mirror']} (is the mirror reachable? set {MIRROR_ENV})",
            )
            result = client.api.import_image_from_file(
                str(tarball),
                repository=REPOSITORY["base"],
                tag=digest[:12],
                changes=[f"LABEL {INPUTS_LABEL}={digest}", 'CMD ["/bin/sh"]'],
            )
        finally:
            tarball.unlink(missing_ok=True)
        with open(log, "a") as handle:
            handle.write(f"docker import: {result}\n")
        image = client.images.get(tag)
        seconds = elapsed()
    return Image("base", tag, image.id, True, seconds)


def _fresh_log(config: Config, kind: str) -> Path:
    log = images_dir(config) / "logs" / f"{kind}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    return log


# ---------------------------------------------------------------------------------------------- service images


def postgres_files() -> dict[str, str]:
    """The generated inputs of the PostgreSQL image: initdb's options and the server settings, from the source
    the embedded cluster uses; where it listens is the container's."""
    settings = {
        "listen_addresses": "*",
        "port": str(PG_PORT),
        "unix_socket_directories": "/tmp",
        **server_settings(stat_statements=True),
    }
    conf = "# generated from baseline.services.postgres.server_settings()\n" + "".join(
        f"{key} = '{value}'\n" for key, value in settings.items()
    )
    return {"initdb.args": " ".join(INITDB_OPTIONS) + "\n", "settings.conf": conf}


def _build(client: Any, context: Path, tag: str, base: Image, digest: str, log: Path) -> Any:
    """`docker build --network=none` of `context` (its Dockerfile) FROM the base image; every line to `log`."""
    from docker.errors import APIError

    repository, _, version = tag.partition(":")
    error: str | None = None
    with open(log, "a") as handle:
        try:
            for chunk in client.api.build(
                path=str(context),
                tag=tag,
                network_mode="none",
                buildargs={"BASE": base.tag},
                labels={INPUTS_LABEL: digest},
                rm=True,
                forcerm=True,
                decode=True,
            ):
                if "stream" in chunk:
                    handle.write(chunk["stream"])
                if "error" in chunk:
                    error = str(chunk.get("error"))
                    handle.write(f"ERROR: {error}\n")
        except APIError as exc:
            error = str(exc)
            handle.write(f"ERROR: {error}\n")
    if error is not None:
        tail = "\n".join(log.read_text(errors="replace").strip().splitlines()[-12:])
        raise ImageBuildError(f"building {repository}:{version} failed: {error.strip()}; full log: {log}\n{tail}")
    return client.images.get(tag)


def _context(config: Config, kind: str, files: Mapping[str, str]) -> Path:
    """A fresh build context: the kind's Dockerfile, the entrypoint and generated files (nothing else is sent)."""
    context = images_dir(config) / "context" / kind
    shutil.rmtree(context, ignore_errors=True)
    context.mkdir(parents=True)
    source = compose_dir(config)
    shutil.copyfile(source / f"{kind}.Dockerfile", context / "Dockerfile")
    shutil.copy2(source / "entrypoint.sh", context / "entrypoint.sh")
    for name, text in files.items():
        (context / name).write_text(text)
    return context


def _file_inputs(config: Config, kind: str) -> dict[str, str]:
    source = compose_dir(config)
    return {
        "Dockerfile": (source / f"{kind}.Dockerfile").read_text(),
        "entrypoint.sh": (source / "entrypoint.sh").read_text(),
    }


def ensure_postgres(config: Config, client: Any, base: Image) -> Image:
    files = postgres_files()
    digest = _digest({"base": base.id, **_file_inputs(config, "postgres"), **files})
    tag = f"{REPOSITORY['postgres']}:{digest[:12]}"
    found = _existing(client, tag)
    if found is not None:
        return Image("postgres", tag, found.id, False, 0.0)
    log = _fresh_log(config, "postgres")
    with _timed(tag, log) as elapsed:
        image = _build(client, _context(config, "postgres", files), tag, base, digest, log)
        seconds = elapsed()
    return Image("postgres", tag, image.id, True, seconds)


def engine_inputs(config: Config) -> tuple[dict[str, Any], str]:
    """What the engine image is made of, and its pinned requirements. The project's wheel counts by its sources:
    the engine's package and the project's metadata (the harness inside the wheel is never run in a container)."""
    roots = wheelhouse.read_requirements(compose_dir(config) / "engine-requirements.txt")
    requirements = wheelhouse.requirements_text(wheelhouse.pinned_closure(roots))
    root = config.project_root
    inputs = {
        **_file_inputs(config, "engine"),
        "requirements": requirements,
        "engine_sources": _tree_digest(root / "src" / "tasker"),
        "pyproject": (root / "pyproject.toml").read_text(),
    }
    return inputs, requirements


def ensure_engine(config: Config, client: Any, base: Image) -> Image:
    inputs, requirements = engine_inputs(config)
    digest = _digest({"base": base.id, **inputs})
    tag = f"{REPOSITORY['engine']}:{digest[:12]}"
    found = _existing(client, tag)
    if found is not None:
        return Image("engine", tag, found.id, False, 0.0)
    log = _fresh_log(config, "engine")
    with _timed(tag, log) as elapsed:
        context = _context(config, "engine", {})
        try:
            wheelhouse.build_wheelhouse(config.project_root, requirements, context / "wheels", log)
        except wheelhouse.WheelhouseError as exc:
            raise ImageBuildError(f"building {tag}: {exc}") from None
        image = _build(client, context, tag, base, digest, log)
        shutil.rmtree(context, ignore_errors=True)
        seconds = elapsed()
    return Image("engine", tag, image.id, True, seconds)


def ensure_images(config: Config, client: Any) -> dict[str, Image]:
    """Every image of the stack, each built only when its inputs changed: kind -> Image."""
    base = ensure_base(config, client)
    images = {
        "base": base,
        "postgres": ensure_postgres(config, client, base),
        "engine": ensure_engine(config, client, base),
    }
    if any(image.built for image in images.values()):
        for kind in ("engine", "postgres", "base"):  # children first: a base is removable once no image uses it
            _prune(client, kind, images[kind].tag)
    return images
