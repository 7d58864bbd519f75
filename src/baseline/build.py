"""The clean build: a fresh venv, a wheel of the project, the wheel installed into it, and its record.

A baseline records what was built (wheel sha256, every installed package's version) so a later comparison can
tell a changed dependency from a changed line of code.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from baseline.config import Config
from baseline.errors import Failure
from baseline.store import now_iso


class BuildError(Failure):
    """A step of the clean build failed; the message names the step and shows its output tail."""


def _step(name: str, command: list[str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise BuildError(f"{name} failed ({' '.join(command[:4])} ...):\n{tail}")
    return time.perf_counter() - started


def _installer() -> str | None:
    """The uv binary shipped by the `uv` wheel, when installed."""
    try:
        from uv import find_uv_bin
    except ImportError:
        return None
    try:
        return str(find_uv_bin())
    except FileNotFoundError:
        return None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_into(source: Path, venv: Path, *, extras: str = "", system_site_packages: bool = False) -> dict[str, Any]:
    """A fresh venv at `venv`, a wheel of the project at `source`, the wheel (with `extras`) installed into it;
    returns the build record. The venv stays; the wheel is built in a temporary folder."""
    python = venv / "bin" / "python"
    started = time.perf_counter()
    installer = _installer()
    if installer:  # uv: the same clean venv, wheel and install, in seconds instead of half a minute of pip
        venv_command = [installer, "venv", "-q", "--python", sys.executable, str(venv)]
        if system_site_packages:
            venv_command.append("--system-site-packages")
        install = [installer, "pip", "install", "-q", "--python", str(python)]
    else:  # pip: no pip inside the venv (ensurepip costs seconds); this interpreter's pip installs into it
        venv_command = [sys.executable, "-m", "venv", "--without-pip", str(venv)]
        if system_site_packages:
            venv_command.insert(3, "--system-site-packages")
        install = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
    with tempfile.TemporaryDirectory(prefix="baseline-wheel-") as tmp:
        wheels = Path(tmp)
        steps = {"venv_s": _step("creating the venv", venv_command)}
        build = (
            [installer, "build", "--wheel", "-q", "--out-dir", str(wheels), str(source)]
            if installer
            else [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)]
        )
        steps["wheel_s"] = _step("building the wheel", build)
        built = sorted(wheels.glob("*.whl"))
        if not built:
            raise BuildError(f"building the wheel produced no .whl in {wheels}")
        wheel = built[0]
        target = f"{wheel}[{extras}]" if extras else str(wheel)
        steps["install_s"] = _step("installing the wheel", [*install, target])
        wheel_record = {"name": wheel.name, "sha256": sha256_file(wheel), "size_bytes": wheel.stat().st_size}
    total = time.perf_counter() - started
    listing = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m, json; "
            "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    version = subprocess.run(
        [str(python), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {
        "built_at": now_iso(),
        "build_seconds": round(total, 3),
        "steps": {k: round(v, 3) for k, v in steps.items()},
        "wheel": wheel_record,
        "python": version.stdout.strip(),
        "packages": dict(sorted(json.loads(listing.stdout).items(), key=lambda kv: kv[0].lower())),
        "host_python": platform.python_version(),
        "isolated": not system_site_packages,
        "installer": "uv" if installer else "pip",
        "venv": str(venv),
    }


def clean_build(config: Config, *, keep: bool = False, system_site_packages: bool = False) -> dict[str, Any]:
    """Fresh venv, wheel of the project, wheel installed into it; returns the build.json record.

    `system_site_packages` lets the venv see this interpreter's packages so pip installs only the wheel
    (fast, for tests and offline machines); the record says the build was not isolated."""
    root = Path(tempfile.mkdtemp(prefix="baseline-build-"))
    try:
        record = build_into(config.project_root, root / "venv", system_site_packages=system_site_packages)
        return {"label": config.label, **record, "venv": record["venv"] if keep else None}
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
