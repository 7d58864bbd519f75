"""Result store: per-phase result files, the per-label manifest and the lock that keeps two pipelines apart.

Every write goes through a temp file in the same folder + fsync + os.replace, so a crash or a refused write
never deletes or truncates what was recorded before. Nothing that looks like a password is ever written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from baseline import pidlock
from baseline.config import Config

SCHEMA_VERSION = 1
RESULT_KEYS = ("schema_version", "phase", "label", "run", "environment", "cases")
CASE_KEYS = ("id", "unit", "samples", "summary")
LOCK_ENV = "BASELINE_LABEL_LOCK"

# `password=...`, `"password": "..."` and `scheme://user:secret@host` all count as a leaked secret.
_SECRET_PATTERNS = (
    re.compile(r"password\s*=\s*[^\s&'\"]", re.IGNORECASE),
    re.compile(r"\"password\"\s*:\s*\"[^\"]+\"", re.IGNORECASE),
    re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@\"']+:[^@\s/\"']+@", re.IGNORECASE),
)


class StoreError(RuntimeError):
    """A result file or manifest is missing, malformed, locked or would leak a secret."""


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def find_secret(text: str) -> str | None:
    """The first password-looking fragment in `text` (shortened), or None."""
    for pattern in _SECRET_PATTERNS:
        match = pattern.search(text)
        if match:
            return match.group(0)[:24]
    return None


_SECRET_KEYS = {"password", "passwd", "pgpassword"}


def find_secret_in(data: Any) -> str | None:
    """Walk a JSON-like structure: a password-named key with a value, or a string that embeds a password."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found = find_secret(item)
            if found:
                return found
        elif isinstance(item, dict):
            for key, value in item.items():
                if isinstance(key, str) and key.lower() in _SECRET_KEYS and value:
                    return f"{key}: ..."
                stack.append(key)
                stack.append(value)
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return None


def redact_secrets(text: str) -> str:
    """`text` with password values replaced, for free-form messages such as error strings."""
    text = re.sub(r"(password\s*=\s*)('[^']*'|[^\s&'\"]+)", r"\1***", text, flags=re.IGNORECASE)
    text = re.sub(r"(\"password\"\s*:\s*\")[^\"]+", r"\1***", text, flags=re.IGNORECASE)
    return re.sub(r"([a-z][a-z0-9+.-]*://[^/\s:@\"']+):[^@\s/\"']+@", r"\1@", text, flags=re.IGNORECASE)


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


def write_json_atomic(path: Path | str, data: Any) -> Path:
    """Write JSON via temp file + fsync + os.replace; the old file stays intact if anything fails."""
    path = Path(path)
    try:
        payload = dumps(data) + b"\n"
    except TypeError as exc:
        raise StoreError(f"{path}: data is not JSON-serialisable ({exc})") from None
    secret = find_secret_in(data)
    if secret is not None:
        raise StoreError(f"{path}: refusing to write what looks like a password ({secret!r}...); redact it first")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


def read_json(path: Path | str) -> Any:
    path = Path(path)
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise StoreError(f"{path}: file not found") from None
    except orjson.JSONDecodeError as exc:
        raise StoreError(f"{path}: not valid JSON ({exc})") from None


# ---------------------------------------------------------------------------------------------- lock


_held: dict[str, tuple[int, int]] = {}  # lock path -> (fd, depth): re-entrant within one process


def _lock_path(label_dir: Path) -> Path:
    return label_dir / ".lock"


def _inherited(lock_path: Path, holder: int | None) -> bool:
    """A child of the holding pipeline (e.g. a bench run by the invoke pipeline) may write under its lock."""
    value = os.environ.get(LOCK_ENV, "")
    path, _, pid = value.rpartition(":")
    return bool(holder) and path == str(lock_path) and pid == str(holder)


@contextlib.contextmanager
def label_lock(config: Config) -> Iterator[Path]:
    """Exclusive, non-blocking lock on profiles/<label>/.lock; StoreError names the pid that holds it."""
    label_dir = config.label_dir
    label_dir.mkdir(parents=True, exist_ok=True)
    lock_path = _lock_path(label_dir)
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
    fd = pidlock.acquire(lock_path)
    if fd is None:
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
    _held[key] = (fd, 1)
    try:
        yield label_dir
    finally:
        del _held[key]
        if previous_env is None:
            os.environ.pop(LOCK_ENV, None)
        else:
            os.environ[LOCK_ENV] = previous_env
        pidlock.release(fd)


# ---------------------------------------------------------------------------------------------- results


def _validate_cases(cases: Any, where: str) -> None:
    if not isinstance(cases, list):
        raise StoreError(f"{where}: 'cases' must be a list, got {type(cases).__name__}")
    for index, case in enumerate(cases):
        if not isinstance(case, dict):
            raise StoreError(f"{where}: case {index} must be an object, got {type(case).__name__}")
        missing = [key for key in CASE_KEYS if key not in case]
        if missing:
            raise StoreError(f"{where}: case {index} ({case.get('id', '?')}) lacks {', '.join(missing)}")
        if not isinstance(case["samples"], list):
            raise StoreError(f"{where}: case {case['id']}: 'samples' must be a list")


def write_result(
    config: Config,
    phase: str,
    cases: list[dict[str, Any]],
    *,
    environment: dict[str, Any],
    flags: list[str] | None = None,
    extra: dict[str, Any] | None = None,
    started_at: str | None = None,
) -> Path:
    """Write profiles/<label>/run-<N>/<phase>.json (schema_version 1) under the label lock."""
    path = config.run_dir / f"{phase}.json"
    _validate_cases(cases, str(path))
    finished = now_iso()
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "phase": phase,
        "label": config.label,
        "run": config.run,
        "started_at": started_at or (extra or {}).get("started_at") or finished,
        "finished_at": finished,
        "environment": environment,
        "flags": sorted(set(flags or [])),
        "cases": cases,
    }
    if extra:
        document["extra"] = extra
    with label_lock(config):
        return write_json_atomic(path, document)


def read_result(path: Path | str) -> dict[str, Any]:
    """Load and check a result file; StoreError names the file and what is wrong."""
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, dict):
        raise StoreError(f"{path}: expected a JSON object, got {type(data).__name__}")
    missing = [key for key in RESULT_KEYS if key not in data]
    if missing:
        raise StoreError(f"{path}: missing required key(s) {', '.join(missing)}")
    if data["schema_version"] != SCHEMA_VERSION:
        raise StoreError(f"{path}: schema_version {data['schema_version']!r} is not supported (expected 1)")
    if not isinstance(data["environment"], dict):
        raise StoreError(f"{path}: 'environment' must be an object")
    _validate_cases(data["cases"], str(path))
    return data


def run_dirs(label_dir: Path | str) -> list[Path]:
    """run-N folders of a label, in numeric order."""
    label_dir = Path(label_dir)
    if not label_dir.is_dir():
        return []
    found = [p for p in label_dir.iterdir() if p.is_dir() and re.fullmatch(r"run-\d+", p.name)]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


# ---------------------------------------------------------------------------------------------- manifest


def read_manifest(label_dir: Path | str) -> dict[str, Any]:
    """profiles/<label>/manifest.json, or an empty manifest when none was written yet."""
    label_dir = Path(label_dir)
    path = label_dir / "manifest.json"
    if not path.exists():
        return {"label": label_dir.name, "runs": {}}
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("runs"), dict):
        raise StoreError(f"{path}: expected an object with a 'runs' object")
    return data


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_secrets(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(v) for v in value]
    return value


def update_manifest(config: Config, run: int, **fields: Any) -> dict[str, Any]:
    """Merge `fields` into runs[run] (phases merged key by key) under the label lock; returns the manifest."""
    with label_lock(config):
        manifest = read_manifest(config.label_dir)
        manifest["label"] = config.label
        entry = manifest["runs"].setdefault(str(run), {})
        for key, value in _redact_value(fields).items():
            if key == "phases" and isinstance(value, dict):
                entry.setdefault("phases", {}).update(value)
            else:
                entry[key] = value
        manifest["updated_at"] = now_iso()
        write_json_atomic(config.label_dir / "manifest.json", manifest)
        return manifest
