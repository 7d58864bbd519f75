"""Digests of the code that produced a result: the harness's bench code, and the target's workload package.

Each result file records both, so `compare` can tell two baselines measured by different bench code (whose
difference is then partly the measurement's) from two measured alike.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from baseline.targets.contract import Target

#: What measures: the benches, and the sampler and HTTP client whose code sits inside the timed regions.
_MEASURING_CODE = ("baseline.benches", "baseline.measure", "baseline.httpclient")


def digest_files(paths: Iterable[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths, key=lambda p: p.relative_to(root).as_posix()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _source_files(module_name: str) -> tuple[Path, list[Path]]:
    """The root its paths are relative to (the folder above the top-level package), and the module's files: every
    .py of a package, or the module's one file. Found without importing anything."""
    spec = importlib.util.find_spec(module_name)
    top = importlib.util.find_spec(module_name.split(".")[0])
    if spec is None or spec.origin is None or top is None or top.origin is None:
        return Path("/"), []
    root = Path(top.origin).parent.parent
    origin = Path(spec.origin)
    return root, sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]


@cache
def bench_digest() -> str:
    """sha256 over the benches and the sampler: what measures, not what reports."""
    files: list[Path] = []
    root = Path("/")
    for name in _MEASURING_CODE:
        root, found = _source_files(name)
        files += found
    return digest_files(files, root)


def workload_digest(target: Target) -> str:
    """sha256 over every Python file of the package that defines the target's workload."""
    module_name = type(target.workload).__module__
    package = module_name.rpartition(".")[0] or module_name
    root, files = _source_files(package)
    return digest_files(files, root)


def provenance(target: Target) -> dict[str, str]:
    return {"bench": bench_digest(), "workload": workload_digest(target)}
