"""Digests of the code that produced a result: the harness's bench code, and the target's workload package.

Each result file records both, so `compare` can tell two baselines measured by different bench code (whose
difference is then partly the measurement's) from two measured alike.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import baseline.benches
from baseline.targets.contract import Target

#: Modules outside baseline.benches whose code sits inside the timed region.
_MEASURING_MODULES = ("baseline.measure",)


def digest_files(paths: Iterable[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths, key=lambda p: p.relative_to(root).as_posix()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _package_files(module_name: str) -> tuple[Path, list[Path]]:
    module = importlib.import_module(module_name)
    top = module_name.split(".")[0]
    root = Path(next(iter(importlib.import_module(top).__path__))).parent
    file = Path(module.__file__ or "")
    if file.name == "__init__.py":
        return root, sorted(file.parent.rglob("*.py"))
    return root, [file]


@cache
def bench_digest() -> str:
    """sha256 over baseline/benches/**.py and the sampler: what measures, not what reports."""
    root, files = _package_files(baseline.benches.__name__)
    for name in _MEASURING_MODULES:
        files += _package_files(name)[1]
    return digest_files(files, root)


def workload_digest(target: Target) -> str:
    """sha256 over every Python file of the package that defines the target's workload."""
    module_name = type(target.workload).__module__
    package = module_name.rpartition(".")[0] or module_name
    if package not in sys.modules:
        importlib.import_module(package)
    root, files = _package_files(package)
    return digest_files(files, root)


def provenance(target: Target) -> dict[str, str]:
    return {"bench": bench_digest(), "workload": workload_digest(target)}
