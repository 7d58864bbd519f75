"""The engine image's wheelhouse, built on the host: the engine's dependencies pinned to this environment's versions.

The containers must run what the embedded processes run, so the requirement names in
compose/images/engine-requirements.txt are resolved against the distributions installed here (importlib.metadata),
with every dependency they pull in, at the installed versions; pip then fetches exactly those wheels.
"""

from __future__ import annotations

import importlib.metadata as metadata
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from baseline.errors import BadInput, Failure


class WheelhouseError(Failure):
    """pip could not build the wheelhouse; the message names the log."""


def read_requirements(path: Path) -> list[Requirement]:
    """Requirement lines of a file (comments and blank lines skipped); BadInput naming a bad line."""
    out: list[Requirement] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            out.append(Requirement(text))
        except InvalidRequirement as exc:
            raise BadInput(f"{path}:{number}: not a requirement ({exc})") from None
    return out


def pinned_closure(roots: Iterable[Requirement]) -> dict[str, str]:
    """Canonical name -> installed version of each root and everything it requires (markers evaluated for this
    interpreter, extras followed); BadInput naming a requirement that is not installed here."""
    environment = {key: str(value) for key, value in default_environment().items()}
    pins: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    pending = [(req, "the engine's requirements") for req in roots]
    while pending:
        req, wanted_by = pending.pop()
        name = canonicalize_name(req.name)
        key = (name, frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            raise BadInput(
                f"{req.name} (needed by {wanted_by}) is not installed where the harness runs, so the engine image "
                "cannot pin it; install the project (`pip install -e .`) into this environment"
            ) from None
        pins[name] = dist.version
        for line in dist.requires or []:
            sub = Requirement(line)
            extras = ["", *sorted(req.extras)]
            if sub.marker is not None and not any(sub.marker.evaluate({**environment, "extra": e}) for e in extras):
                continue
            pending.append((sub, f"{name} {dist.version}"))
    return dict(sorted(pins.items()))


def requirements_text(pins: dict[str, str]) -> str:
    return "".join(f"{name}=={version}\n" for name, version in pins.items())


def _pip(args: list[str], log: Path, what: str) -> None:
    with open(log, "a") as handle:
        handle.write(f"$ pip {' '.join(args)}\n")
        handle.flush()
        result = subprocess.run(
            [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").strip().splitlines()[-12:])
        raise WheelhouseError(f"{what} failed (pip exited {result.returncode}); full log: {log}\n{tail}")


def build_wheelhouse(project_root: Path, requirements: str, out: Path, log: Path) -> None:
    """`out`/requirements.txt, a wheel per pinned requirement in `out`, the project's own wheel in `out`/project."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "requirements.txt").write_text(requirements)
    _pip(["wheel", "-q", "--no-deps", "-w", str(out), "-r", str(out / "requirements.txt")], log, "the engine's wheels")
    _pip(["wheel", "-q", "--no-deps", "-w", str(out / "project"), str(project_root)], log, "the project's wheel")
