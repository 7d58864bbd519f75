"""The one writer of what the harness records: result files, manifests, reports, profiles, state files.

Every write goes through a temp file in the same folder + fsync + os.replace, so a crash or a refused write never
deletes or truncates what was recorded before, and nothing that looks like a password is ever written (the
write is refused instead). `results` is the matching reader. The per-label lock keeps two pipelines apart.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from baseline import pidlock
from baseline.config import Config
from baseline.errors import Failure, HarnessError
from baseline.redaction import find_secret, find_secret_in, redact_value
from baseline.results import SCHEMA_VERSION, StoreError, read_manifest, validate_cases

LOCK_ENV = "BASELINE_LABEL_LOCK"

__all__ = [
    "LOCK_ENV",
    "StoreError",
    "check_writable",
    "dumps",
    "label_lock",
    "now_iso",
    "pipelines_started_by",
    "record_phase",
    "start_run",
    "update_manifest",
    "write_json_atomic",
    "write_result",
    "write_text_atomic",
]


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def _default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    raise TypeError(f"cannot store a {type(obj).__name__} as JSON")


def dumps(data: Any) -> bytes:
    return orjson.dumps(
        data, default=_default, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
    )


def _refuse_secret(path: Path, found: str | None) -> None:
    if found is not None:
        raise Failure(f"{path}: refusing to write what looks like a password ({found!r}...); redact it first")


#: Why a folder cannot take a write, when the fix is the user's (anything else, a full disk included, is a failure).
_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ENOTDIR, errno.EEXIST}


def _write_error(path: Path, exc: OSError) -> HarnessError:
    """One line naming the file, the cause and the fix; what was recorded before is untouched."""
    cause = exc.strerror or type(exc).__name__
    if exc.errno == errno.ENOSPC:
        return Failure(
            f"could not write {path}: {cause}: free space on that disk, or set another output folder "
            "(BASELINE_OUTPUT_DIR or output_dir); what was recorded before is unchanged"
        )
    message = (
        f"could not write {path}: {cause}: make it a writable folder (a file or folder in the way must be moved), "
        "or set another output folder (BASELINE_OUTPUT_DIR or output_dir); what was recorded before is unchanged"
    )
    return StoreError(message) if exc.errno in _NOT_WRITABLE else Failure(message)


def check_writable(folder: Path) -> None:
    """Before a bench measures: a folder its results cannot go into costs no bench time."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".write-check.", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise _write_error(folder, exc) from None


def _replace_atomically(path: Path, payload: bytes) -> Path:
    tmp_name: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException as exc:
        if tmp_name is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
        if isinstance(exc, OSError):
            raise _write_error(path, exc) from None
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


def write_json_atomic(path: Path | str, data: Any) -> Path:
    """Write JSON via temp file + fsync + os.replace; the old file stays intact if anything fails."""
    path = Path(path)
    try:
        payload = dumps(data) + b"\n"
    except TypeError as exc:
        raise Failure(f"{path}: data is not JSON-serialisable ({exc})") from None
    _refuse_secret(path, find_secret_in(data))
    return _replace_atomically(path, payload)


def write_text_atomic(path: Path | str, text: str) -> Path:
    """Write text (reports, SVG, folded profiles) the same way, refusing anything that looks like a password."""
    path = Path(path)
    _refuse_secret(path, find_secret(text))
    return _replace_atomically(path, text.encode("utf-8"))


# ---------------------------------------------------------------------------------------------- lock


_held: dict[str, tuple[int, int]] = {}  # lock path -> (fd, depth): re-entrant within one process


def _lock_entries() -> list[tuple[str, str]]:
    """(lock path, pid) of each `<path>:<pid>` line of the label-lock variable a pipeline exports."""
    return [(path, pid) for path, _, pid in (e.rpartition(":") for e in os.environ.get(LOCK_ENV, "").splitlines())]


def pipelines_started_by() -> set[int]:
    """The pipelines this process was started by (their pids, from the label-lock variable they export)."""
    return {int(pid) for _, pid in _lock_entries() if pid.isdigit()}


def _inherited(lock_path: Path, holder: int | None) -> bool:
    """A child of the holding pipeline (a bench it runs) may write under its lock. The variable holds one
    `<path>:<pid>` per line (a paired bench writes two labels)."""
    return bool(holder) and (str(lock_path), str(holder)) in _lock_entries()


@contextlib.contextmanager
def label_lock(config: Config) -> Iterator[Path]:
    """Exclusive, non-blocking lock on profiles/<label>/.lock; StoreError names the pid that holds it.

    The holder exports BASELINE_LABEL_LOCK=<path>:<pid>, so the phase processes it starts write under its lock."""
    label_dir = config.label_dir
    label_dir.mkdir(parents=True, exist_ok=True)
    lock_path = label_dir / ".lock"
    key = str(lock_path)
    if key in _held:
        fd, depth = _held[key]
        _held[key] = (fd, depth + 1)
        try:
            yield label_dir
        finally:
            fd, depth = _held[key]
            _held[key] = (fd, depth - 1)
        return
    try:
        acquired = pidlock.acquire(lock_path)
    except OSError as exc:  # a full disk or a read-only folder, met at the lock before any result
        raise _write_error(lock_path, exc) from None
    if acquired is None:
        holder = pidlock.holder(lock_path)
        if _inherited(lock_path, holder):
            yield label_dir
            return
        raise StoreError(
            f"label {config.label} is being written by another pipeline (pid {holder or 'unknown'}); "
            f"wait for it or use another --label"
        )
    previous_env = os.environ.get(LOCK_ENV)
    os.environ[LOCK_ENV] = f"{lock_path}:{os.getpid()}"
    _held[key] = (acquired, 1)
    try:
        yield label_dir
    finally:
        del _held[key]
        if previous_env is None:
            os.environ.pop(LOCK_ENV, None)
        else:
            os.environ[LOCK_ENV] = previous_env
        pidlock.release(acquired)


# ---------------------------------------------------------------------------------------------- results


def write_result(
    config: Config,
    phase: str,
    cases: list[dict[str, Any]],
    *,
    environment: dict[str, Any],
    flags: list[str] | None = None,
    extra: dict[str, Any] | None = None,
    started_at: str | None = None,
    provenance: dict[str, str] | None = None,
) -> Path:
    """Write profiles/<label>/run-<N>/<phase>.json (schema_version 1) under the label lock."""
    path = config.run_dir / f"{phase}.json"
    validate_cases(cases, str(path))
    finished = now_iso()
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "phase": phase,
        "label": config.label,
        "run": config.run,
        "started_at": started_at or (extra or {}).get("started_at") or finished,
        "finished_at": finished,
        "environment": environment,
        "provenance": dict(provenance or {}),
        "flags": sorted(set(flags or [])),
        "cases": cases,
    }
    if extra:
        document["extra"] = extra
    with label_lock(config):
        return write_json_atomic(path, document)


# ---------------------------------------------------------------------------------------------- manifest


def update_manifest(config: Config, run: int, **fields: Any) -> dict[str, Any]:
    """Merge `fields` into runs[run] (phases merged phase by phase) under the label lock; returns the manifest."""
    with label_lock(config):
        manifest = read_manifest(config.label_dir)
        manifest["label"] = config.label
        entry = manifest["runs"].setdefault(str(run), {})
        for key, value in redact_value(fields).items():
            if key == "phases" and isinstance(value, dict):
                phases = entry.setdefault("phases", {})
                for name, record in value.items():
                    current = phases.get(name)
                    phases[name] = {**current, **record} if isinstance(current, dict) else record
            else:
                entry[key] = value
        manifest["updated_at"] = now_iso()
        write_json_atomic(config.label_dir / "manifest.json", manifest)
        return manifest


def start_run(config: Config, run: int) -> dict[str, Any]:
    """Open runs[run] afresh (a run redone replaces its whole record): incomplete, started now, no phases yet."""
    with label_lock(config):
        manifest = read_manifest(config.label_dir)
        manifest["label"] = config.label
        manifest["runs"][str(run)] = {
            "status": "incomplete",
            "started_at": now_iso(),
            "finished_at": None,
            "error": None,
            "phases": {},
        }
        manifest["updated_at"] = now_iso()
        write_json_atomic(config.label_dir / "manifest.json", manifest)
        return manifest


def record_phase(config: Config, run: int, phase: str, **record: Any) -> dict[str, Any]:
    """One phase's status, timing, exit code and log in runs[run].phases[phase]."""
    return update_manifest(config, run, phases={phase: record})
