"""invoke tasks: pipelines composed of the nox sessions (each phase stays runnable alone with `nox -s ...`).

    invoke baseline --label pre-refactor --runs 3     three fresh-stack runs of every phase, then a summary
    invoke baseline --label L --only-run 2            redo run 2 only; the other runs are left as they are
    invoke profile-all --label L --quick              flamegraphs of every phase, then a table of them
    invoke compare --base pre-refactor --head post-refactor

Only nox and invoke are needed to run these: every step runs inside the sessions' own environment.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from invoke import Context, Exit, task

ROOT = Path(__file__).resolve().parent
RUN_PHASES = ("sql_bench", "event_bench", "task_init_bench")


def _nox(c: Context, sessions: str, *args: str, warn: bool = False, stop_on_error: bool = True) -> bool:
    """Run nox sessions with harness arguments, by default stopping at the first that fails; True when all passed."""
    cmd = f"nox {'--stop-on-first-error ' if stop_on_error else ''}-s {sessions}"
    if args:
        cmd += " -- " + " ".join(shlex.quote(a) for a in args)
    result = c.run(cmd, warn=warn, pty=False, echo=True)
    return bool(result and result.ok)


def _common(label: str, run: int | None, quick: bool) -> list[str]:
    args = ["--label", label]
    if run is not None:
        args += ["--run", str(run)]
    if quick:
        args.append("--quick")
    return args


def _output_dir() -> Path:
    """Where results go, resolved like baseline.config does: BASELINE_OUTPUT_DIR, [tool.baseline], profiles."""
    configured = os.environ.get("BASELINE_OUTPUT_DIR")
    if not configured:
        with open(ROOT / "pyproject.toml", "rb") as fh:
            configured = tomllib.load(fh).get("tool", {}).get("baseline", {}).get("output_dir", "profiles")
    path = Path(configured)
    return path if path.is_absolute() else ROOT / path


@contextmanager
def _pipeline_lock(label: str) -> Iterator[None]:
    """Hold the label's lock for the whole pipeline; the sessions it runs inherit it.

    Same protocol as baseline.store.label_lock (flock on profiles/<label>/.lock holding the pid, and
    BASELINE_LABEL_LOCK=<path>:<pid> for children), spelled out here so invoke needs nothing but invoke.
    """
    label_dir = _output_dir() / label
    label_dir.mkdir(parents=True, exist_ok=True)
    lock_path = label_dir / ".lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = lock_path.read_text().strip() or "unknown"
        os.close(fd)
        raise Exit(f"label {label!r} is being written by another pipeline (pid {holder}); wait for it", 2) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    os.environ["BASELINE_LABEL_LOCK"] = f"{lock_path}:{os.getpid()}"
    try:
        yield
    finally:
        os.environ.pop("BASELINE_LABEL_LOCK", None)
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _validate_label(label: str) -> None:
    if not label or "/" in label or label.startswith(".") or ".." in label:
        raise Exit(f"--label {label!r}: use a plain folder name such as pre-refactor (no '/', no leading '.')", 2)


def _one_run(c: Context, label: str, run: int, quick: bool, profile: bool) -> bool:
    """Fresh stack, every phase, teardown; the run's status goes to the manifest."""
    common = _common(label, run, quick)
    ok = False
    try:
        # Sessions that share their arguments run in one nox call (one start-up instead of one each); mark_run
        # without --status records the run as started (incomplete) before anything else runs.
        ok = _nox(c, " ".join(("mark_run", "up", *RUN_PHASES)), *common, warn=True)
        if ok:
            ok = _nox(c, "e2e_bench", *common, *(["--profile"] if profile else []), warn=True)
    finally:
        # The lifecycle tests create their databases in the run's server while it is still up (no cluster start);
        # `down` runs even when they fail.
        ok = _nox(c, "lifecycle_profile down" if ok else "down", *common, warn=True, stop_on_error=False) and ok
    _nox(c, "mark_run", *common, "--status", "complete" if ok else "failed")
    return ok


@task(
    help={
        "label": "folder under profiles/ for this baseline (e.g. pre-refactor)",
        "runs": "number of independent runs (the unit of replication); default 3",
        "quick": "small samples and dataset: a smoke test, not a baseline",
        "only_run": "redo this one run (1..runs) and re-summarize; other runs are kept",
        "profile": "profile the services during the E2E window (default on)",
    }
)
def baseline(
    c: Context, label: str = "adhoc", runs: int = 3, quick: bool = False, only_run: int = 0, profile: bool = True
) -> None:
    """Clean build, then N runs of every phase on fresh services and a fresh database, then the summary."""
    _validate_label(label)
    if runs < 1:
        raise Exit(f"--runs {runs}: give at least 1", 2)
    if only_run and not 1 <= only_run <= runs:
        raise Exit(f"--only-run {only_run}: must be between 1 and --runs ({runs})", 2)
    with _pipeline_lock(label):
        _nox(c, "build", *_common(label, None, quick))
        targets = [only_run] if only_run else list(range(1, runs + 1))
        failed = [run for run in targets if not _one_run(c, label, run, quick, profile)]
        _nox(c, "summarize", *_common(label, None, quick))
    if failed:
        raise Exit(f"baseline {label!r}: run(s) {failed} failed; see {_output_dir() / label / 'manifest.json'}", 1)


@task(help={"label": "folder under profiles/", "quick": "small samples: a smoke test"})
def profile_all(c: Context, label: str = "adhoc", quick: bool = False) -> None:
    """Every profiling phase (lifecycle, E2E with all services, the SQL bench process), then a table of them."""
    _validate_label(label)
    common = _common(label, 1, quick)
    with _pipeline_lock(label):
        ok = _nox(c, "up", *common, warn=True)
        try:
            if ok:
                ok = _nox(c, "sql_bench e2e_bench", *common, "--profile", warn=True)
        finally:  # lifecycle first, in the stack's server (see _one_run); down even when a phase failed
            ok = _nox(c, "lifecycle_profile down", *common, warn=True, stop_on_error=False) and ok
        _nox(c, "profile_report", "--label", label, warn=True)
    if not ok:
        raise Exit("profile-all: a phase failed (see above); the profiles it wrote are kept", 1)


@task(
    help={
        "base": "baseline label (default pre-refactor)",
        "head": "label to judge (default post-refactor)",
        "strict": "environment mismatch is an error, not a warning",
    }
)
def compare(c: Context, base: str = "pre-refactor", head: str = "post-refactor", strict: bool = False) -> None:
    """Verdict of head against base; exits 0 (gates hold), 1 (a gate fails) or 2 (bad input)."""
    args = ["--base", base, "--head", head, *(["--strict"] if strict else [])]
    cmd = "nox -s compare -- " + " ".join(shlex.quote(a) for a in args)
    result = c.run(cmd, warn=True, pty=False, echo=True)
    if result is not None and not result.ok:
        sys.exit(result.exited)
