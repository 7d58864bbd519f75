"""py-spy capture: record a command, or attach to running services for exactly one measuring window.

Output is py-spy's raw folded format with line numbers off (stacks aggregate by function) and the
`process PID:"cmdline"` frames of `--subprocesses` reduced to a stable, secret-free `process "prog sub"` so
runs diff cleanly. Everything here is imported lazily by the benches: a run without --profile never needs py-spy.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baseline import procfs
from baseline.errors import BadInput, Failure

__all__ = [
    "INSTALL_HINT",
    "ProfiledWindows",
    "ProfilerError",
    "ProfilerUnavailable",
    "RecordedProcess",
    "WindowResult",
    "find_py_spy",
    "normalize_folded",
    "profile_window",
    "profile_windows",
    "ptrace_hint",
    "record_command",
]

INSTALL_HINT = "py-spy is not installed: pip install py-spy (or `pip install .[profile]`)"
PY_SPY_ENV = "BASELINE_PY_SPY"
_SAMPLING = "Sampling process"
_DENIED = ("permission denied", "operation not permitted")
_WRAPPER_NAME = "baseline-profiled"
# No ';' or newline: py-spy puts this command line into a frame of the folded output.
_WRAPPER_SCRIPT = 'e=$1 o=$2 && shift 2 && "$@" >"$o" 2>&1 && echo 0 >"$e" || echo $? >"$e"'
_PROCESS_FRAME = re.compile(r'^process \d+:"')
_COMMAND_FRAME = 'process "the profiled command"'
_LAST_PROCESS_FRAME = re.compile(r'^(process \d+:".*)" (\d+)$')
_PR_SET_PDEATHSIG = 1
_SAMPLES = re.compile(r"Samples: (\d+) Errors: (\d+)")


class ProfilerUnavailable(BadInput):
    """py-spy is missing or may not attach; the message says how to fix it."""


class ProfilerError(Failure):
    """py-spy ran but could not profile (not a Python process, gone, crashed); the message has its output."""


def find_py_spy(search_path: str | None = None) -> str:
    """Path of the py-spy binary: $BASELINE_PY_SPY, else next to this Python, else on PATH.

    `search_path` (os.pathsep-separated folders) replaces both default places, e.g. to prove the error path.
    """
    explicit = os.environ.get(PY_SPY_ENV, "").strip()
    if explicit and search_path is None:
        if os.path.isfile(explicit) and os.access(explicit, os.X_OK):
            return explicit
        raise ProfilerUnavailable(f"{PY_SPY_ENV}={explicit!r} is not an executable file. {INSTALL_HINT}")
    if search_path is None:
        search_path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which("py-spy", path=search_path)
    if not found:
        raise ProfilerUnavailable(INSTALL_HINT)
    return found


def ptrace_hint() -> str:
    """How to get ptrace rights here (what py-spy needs to read another process's memory)."""
    scope = procfs.ptrace_scope()
    parts = [
        "py-spy may not attach (ptrace denied). Fix: run as root (sudo -E), or in a container add "
        "`--cap-add SYS_PTRACE` (compose: `cap_add: [SYS_PTRACE]`)"
    ]
    if scope and scope != "0":
        parts.append(f", or allow it for all processes: `echo 0 > /proc/sys/kernel/yama/ptrace_scope` (now {scope})")
    return "".join(parts) + "."


# ------------------------------------------------------------------------------------------ folded cleanup


def _short_command(cmdline: str) -> str:
    """`/x/bin/python /x/bin/tasker worker --dsn postgresql://u:p@h/db` -> `python tasker worker`."""
    try:
        words = shlex.split(cmdline)
    except ValueError:
        words = cmdline.split()
    kept: list[str] = []
    for i, word in enumerate(words):
        if i > 0 and ((word.startswith("-") and word != "-m") or "=" in word or "://" in word or "@" in word):
            break
        kept.append(os.path.basename(word.rstrip("/")) or word)
        if len(kept) == 4:
            break
    return " ".join(kept).replace('"', "'").replace(";", ",")


def normalize_folded(text: str, command: Sequence[str] = ()) -> str:
    """Drop our shell wrapper's frame and PIDs/arguments from `--subprocesses` process frames (see module doc).

    A sample of a process with no Python frame yet is the process frame alone (`process 12:"cmd" 3`); a sample
    of nothing but the wrapper shell is dropped. `command` is what the wrapper ran, named in its frame when py-spy
    read its command line before the exec.
    """
    command_frame = f'process "{_short_command(shlex.join(command))}"' if command else _COMMAND_FRAME
    out: list[str] = []
    lines = iter(text.splitlines())
    for line in lines:
        frames: list[str] = []
        rest, count, seen = line, "", False
        while _PROCESS_FRAME.match(rest):
            head, sep, tail = rest.partition('";')
            last = _LAST_PROCESS_FRAME.match(rest)
            if not sep and last:
                head, tail, count, sep = last.group(1), "", last.group(2), '"'
            if not sep:
                nxt = next(lines, None)  # a command line with a newline in it continues on the next line
                if nxt is None:
                    break
                rest = f"{rest} {nxt}"
                continue
            cmdline = head.split(':"', 1)[1]
            if not seen:
                # Our wrapper shell, by name or, when py-spy read its command line mid-exec, as an empty one.
                if _WRAPPER_NAME not in cmdline and cmdline.strip():
                    frames.append(f'process "{_short_command(cmdline)}"')
            elif _WRAPPER_NAME in cmdline:
                # The command itself, its command line read between the wrapper's fork and its exec: kept, or its
                # children's samples would lose their parent frame in this run only.
                frames.append(command_frame)
            else:
                frames.append(f'process "{_short_command(cmdline)}"')
            seen = True
            rest = tail
        if count:
            if frames:
                out.append(f"{';'.join(frames)} {count}")
            continue
        frames.append(rest)
        out.append(";".join(f for f in frames if f))
    return "\n".join(out) + ("\n" if out else "")


def _normalize_file(path: Path, command: Sequence[str]) -> None:
    from baseline.store import write_text_atomic

    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    write_text_atomic(path, normalize_folded(text, command))


def _raise_for_failure(output: str, what: str) -> None:
    if any(marker in output.lower() for marker in _DENIED):
        raise ProfilerUnavailable(f"{what}: {ptrace_hint()} py-spy said: {_tail(output, 3)}")
    raise ProfilerError(f"{what}: py-spy failed: {_tail(output, 8)}")


def _tail(text: str, lines: int) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip() and not line.startswith("   ")]
    return " | ".join(kept[-lines:])


# ------------------------------------------------------------------------------------------ record a command


class RecordedProcess(subprocess.CompletedProcess):  # type: ignore[type-arg]
    """The profiled command's result (`returncode`, `stdout` = its merged output) plus py-spy's own."""

    def __init__(
        self,
        args: list[str],
        returncode: int,
        stdout: str,
        *,
        profiler_returncode: int,
        profiler_output: str,
        seconds: float,
        samples: int,
    ) -> None:
        super().__init__(args, returncode, stdout, None)
        self.profiler_returncode = profiler_returncode
        self.profiler_output = profiler_output
        self.seconds = seconds
        self.samples = samples


def _pyspy_flags(rate: int, *, subprocesses: bool, line_numbers: bool, idle: bool, nonblocking: bool) -> list[str]:
    if rate < 1:
        raise ValueError(f"profile rate must be >= 1 sample per second, got {rate!r}")
    flags = ["--format", "raw", "--rate", str(rate)]
    flags += ["--subprocesses"] if subprocesses else []
    flags += [] if line_numbers else ["--nolineno"]
    flags += ["--idle"] if idle else []
    flags += ["--nonblocking"] if nonblocking else []
    return flags


def record_command(
    argv: Sequence[str],
    out_folded: Path,
    *,
    rate: int = 100,
    subprocesses: bool = True,
    line_numbers: bool = False,
    idle: bool = False,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    py_spy: str | None = None,
) -> RecordedProcess:
    """Run `argv` under `py-spy record` into `out_folded`; the command's exit code is kept apart from py-spy's.

    py-spy does not pass its child's exit code on, so the command runs inside a tiny /bin/sh wrapper that
    writes it to a file; the wrapper's frame is removed from the output. The command's output is captured.
    """
    if not argv:
        raise ValueError("record_command needs a command to run")
    exe = py_spy or find_py_spy()
    out_folded = Path(out_folded)
    out_folded.parent.mkdir(parents=True, exist_ok=True)
    flags = _pyspy_flags(rate, subprocesses=subprocesses, line_numbers=line_numbers, idle=idle, nonblocking=False)
    with tempfile.TemporaryDirectory(prefix="baseline-record-") as tmp:
        exit_file, output_file = Path(tmp) / "exit", Path(tmp) / "output"
        wrapped = ["/bin/sh", "-c", _WRAPPER_SCRIPT, _WRAPPER_NAME, str(exit_file), str(output_file), *argv]
        cmd = [exe, "record", *flags, "-o", str(out_folded), "--", *wrapped]
        started = time.monotonic()
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
        seconds = time.monotonic() - started
        output = output_file.read_text(errors="replace") if output_file.exists() else ""
        code_text = exit_file.read_text().strip() if exit_file.exists() else ""
    if not code_text.lstrip("-").isdigit() or (proc.returncode != 0 and any(m in proc.stdout.lower() for m in _DENIED)):
        _raise_for_failure(proc.stdout, f"py-spy record of {shlex.join(argv)}")
    _normalize_file(out_folded, argv)
    match = _SAMPLES.search(proc.stdout)
    return RecordedProcess(
        list(argv),
        int(code_text),
        output,
        profiler_returncode=proc.returncode,
        profiler_output=proc.stdout,
        seconds=seconds,
        samples=int(match.group(1)) if match else 0,
    )


# ------------------------------------------------------------------------------------------ attach to services


@dataclass
class WindowResult:
    """What one profiling window wrote: files per role (folded + rendered views), samples, and notes."""

    prefix: str
    rate: int
    idle: bool
    nonblocking: bool = False
    files: dict[str, dict[str, Path]] = field(default_factory=dict)
    samples: dict[str, int] = field(default_factory=dict)
    exited: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    sampler_cpu_s: dict[str, float] = field(default_factory=dict)  # py-spy's own CPU while sampling, per role


@dataclass
class _Attached:
    """One attached py-spy. Its output goes to a file, not a pipe: no reader thread runs in the caller's
    process, which would otherwise show up in a profile of the caller itself (sql-bench)."""

    role: str
    pid: int
    folded: Path
    subprocesses: bool
    proc: subprocess.Popen[bytes]
    log: Path
    cpu_at_start: float | None = None  # py-spy's CPU once sampling began: its attach work is not the window's

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def sampling(self) -> bool:
        return _SAMPLING in self.output()


def _interrupt_when_parent_dies() -> None:
    """In the py-spy child: SIGINT it if the bench dies (even by SIGKILL), so it writes its file and exits
    instead of sampling the services forever."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGINT)


def _attach(
    exe: str, role: str, pid: int, folded: Path, flags: list[str], subprocesses: bool, log_dir: Path
) -> _Attached:
    cmd = [exe, "record", "--pid", str(pid), *flags, *(["--subprocesses"] if subprocesses else [])]
    cmd += ["-o", str(folded)]
    log = log_dir / f"{folded.name}.log"
    with log.open("wb") as handle:
        # Own session: a Ctrl-C at the terminal reaches the bench, which then stops py-spy itself (so it writes).
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_interrupt_when_parent_dies,
        )
    return _Attached(role, pid, folded, subprocesses, proc, log)


def _wait_sampling(item: _Attached, deadline: float) -> None:
    while not item.sampling():
        if item.proc.poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    if item.sampling():
        item.cpu_at_start = procfs.threads_cpu_seconds(item.proc.pid)
        return
    if item.proc.poll() is None:
        item.proc.kill()
    item.proc.wait()
    what = f"attaching py-spy to {item.role} (pid {item.pid})"
    output = item.output()
    if procfs.process_gone(item.pid) and not any(m in output.lower() for m in _DENIED):
        raise ProfilerError(f"{what}: the process is not running")
    if item.subprocesses and "No python processes found" in output:
        # Under --subprocesses py-spy reports a ptrace denial as "no python processes"; ask it plainly.
        exe = item.proc.args[0] if isinstance(item.proc.args, list) else "py-spy"
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            plain = subprocess.run(
                [exe, "dump", "--pid", str(item.pid)], capture_output=True, text=True, timeout=15, check=False
            )
            if plain.returncode != 0:
                output = plain.stdout + plain.stderr
    _raise_for_failure(output or "no output before the attach timeout", what)


def _stop(item: _Attached, timeout: float) -> tuple[bool, list[str], float | None]:
    """SIGINT so py-spy writes its file; returns (the target exited during capture, notes, py-spy's CPU seconds
    while sampling, None when unknown)."""
    notes: list[str] = []
    cpu_now = procfs.threads_cpu_seconds(item.proc.pid) if item.proc.poll() is None else None
    used = cpu_now - item.cpu_at_start if cpu_now is not None and item.cpu_at_start is not None else None
    if item.proc.poll() is None:
        item.proc.send_signal(signal.SIGINT)
    try:
        item.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        item.proc.kill()
        item.proc.wait()
        notes.append(f"{item.role}: py-spy did not stop within {timeout:g} s after SIGINT and was killed")
    output = item.output()
    exited = "process exited" in output or procfs.process_gone(item.pid)
    if exited:
        notes.append(f"{item.role} exited during capture")
    empty = not item.folded.exists() or item.folded.stat().st_size == 0
    if empty and item.proc.returncode not in (0, None, -signal.SIGINT):
        notes.append(f"{item.role}: py-spy exited with {item.proc.returncode}: {_tail(output, 3)}")
    return exited, notes, used


@contextlib.contextmanager
def profile_window(pids: Mapping[str, int], out_dir: Path, **options: Any) -> Iterator[WindowResult]:
    """One profiled window (see profile_windows for the options): py-spy attached to every role when the block
    opens, stopped and rendered when it closes; the result is filled in then."""
    with profile_windows(pids, out_dir, **options) as windows, windows.window():
        yield windows.result


@contextlib.contextmanager
def profile_windows(
    pids: Mapping[str, int],
    out_dir: Path,
    *,
    rate: int = 100,
    modules: Sequence[str] = (),
    prefix: str = "e2e-",
    idle: bool = True,
    subprocesses: bool | None = None,
    nonblocking: bool = True,
    attach_timeout: float = 20.0,
    stop_timeout: float = 30.0,
    py_spy: str | None = None,
) -> Iterator[ProfiledWindows]:
    """Windows (`with windows.window(): ...`) over the same roles, each role's samples merged into one profile.

    Several windows let a bench alternate profiled and unprofiled blocks, so machine drift hits both alike when it
    states the profiler's cost; the views are rendered once, when the outer `with` ends.
    Entering a window waits until every py-spy reports it is sampling, so no attach cost falls inside the caller's
    timed region. `subprocesses` None follows children for a role that has any when first attached, except this
    very process (whose children may be the services, profiled on their own); following costs py-spy CPU (a
    process-tree scan per sample), which a 2-core machine takes from the services.
    Files: `out_dir/<prefix><role>.folded` + views + `.capture.json` (pid, rate, windows, samples, seconds, notes).
    `nonblocking` (default) samples without pausing the services, which costs them less (docs/findings/harness.md).
    A role that exits mid-window keeps what was sampled, is named in `notes` and left out of later windows.
    `modules`: the target's lifecycle module names, whose shares the hot-path views report.
    No pids (external services): nothing is attached and the result says so.
    """
    exe = py_spy or find_py_spy()
    flags = _pyspy_flags(rate, subprocesses=False, line_numbers=False, idle=idle, nonblocking=nonblocking)
    result = WindowResult(prefix=prefix, rate=rate, idle=idle, nonblocking=nonblocking)
    if not pids:  # external services: nothing of theirs runs here
        result.notes.append("no local process to profile (external services?)")
    windows = ProfiledWindows(
        exe, dict(pids), Path(out_dir), flags, subprocesses, result, attach_timeout, stop_timeout, tuple(modules)
    )
    try:
        yield windows
    finally:
        windows.finish()


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


class ProfiledWindows:
    """Attach/detach cycles over the same roles; each role's samples add up in one folded file."""

    def __init__(
        self,
        exe: str,
        pids: dict[str, int],
        out_dir: Path,
        flags: list[str],
        subprocesses: bool | None,
        result: WindowResult,
        attach_timeout: float,
        stop_timeout: float,
        modules: tuple[str, ...] = (),
    ) -> None:
        self.exe, self.pids, self.out_dir, self.flags = exe, pids, out_dir, flags
        self.modules = modules
        self.subprocesses, self.result = subprocesses, result
        self.attach_timeout, self.stop_timeout = attach_timeout, stop_timeout
        self.started_at = ""
        self.windows = 0
        self._parts: dict[str, list[Path]] = {role: [] for role in pids}
        self._followed: dict[str, bool] = {}
        self._errors: dict[str, int] = {}
        self._returncodes: dict[str, int | None] = {}
        self._log_root = Path(tempfile.mkdtemp(prefix="baseline-py-spy-"))
        out_dir.mkdir(parents=True, exist_ok=True)
        for role in pids:
            (out_dir / f"{result.prefix}{role}.folded").unlink(missing_ok=True)

    @contextlib.contextmanager
    def window(self) -> Iterator[WindowResult]:
        """One window: every live role sampled from entry (once py-spy reports sampling) to exit."""
        from baseline.store import now_iso

        roles = {role: pid for role, pid in self.pids.items() if role not in self.result.exited}
        attached: list[_Attached] = []
        log_dir = self._log_root / f"log-{self.windows}"
        log_dir.mkdir()
        try:
            for role, pid in roles.items():
                follow = self._followed.setdefault(
                    role,
                    (pid != os.getpid() and procfs.has_children(pid))
                    if self.subprocesses is None
                    else self.subprocesses,
                )
                # In out_dir, so a bench killed mid-window still leaves what py-spy wrote on its parent's death.
                final = self.out_dir / f"{self.result.prefix}{role}.folded"
                part = final if not self.windows else final.with_suffix(f".window{self.windows + 1}.folded")
                attached.append(_attach(self.exe, role, pid, part, self.flags, follow, log_dir))
            deadline = time.monotonic() + self.attach_timeout
            for item in attached:
                _wait_sampling(item, deadline)
        except BaseException:
            for item in attached:
                if item.proc.poll() is None:
                    item.proc.kill()
                    item.proc.wait()
            raise
        self.started_at = self.started_at or now_iso()
        self.windows += 1
        started = time.monotonic()
        try:
            yield self.result
        finally:
            self.result.seconds += time.monotonic() - started
            for item in attached:
                exited, notes, cpu = _stop(item, self.stop_timeout)
                if cpu is not None:
                    self.result.sampler_cpu_s[item.role] = self.result.sampler_cpu_s.get(item.role, 0.0) + cpu
                if exited and item.role not in self.result.exited:
                    self.result.exited.append(item.role)
                self.result.notes.extend(note for note in notes if note not in self.result.notes)
                match = _SAMPLES.search(item.output())
                self.result.samples[item.role] = self.result.samples.get(item.role, 0) + (
                    int(match.group(1)) if match else 0
                )
                self._errors[item.role] = self._errors.get(item.role, 0) + (int(match.group(2)) if match else 0)
                self._returncodes[item.role] = item.proc.returncode
                self._parts[item.role].append(item.folded)

    def finish(self) -> None:
        """Merge each role's windows into `<prefix><role>.folded`, then render and describe it."""
        from baseline.profiling import folded as folded_text
        from baseline.store import write_text_atomic

        try:
            if not self.windows:
                return
            for role, pid in self.pids.items():
                texts = [p.read_text(encoding="utf-8", errors="replace") for p in self._parts[role] if p.exists()]
                path = self.out_dir / f"{self.result.prefix}{role}.folded"
                merged = folded_text.merge(*(folded_text.parse(normalize_folded(t)) for t in texts))
                write_text_atomic(path, folded_text.dump(merged))
                for part in self._parts[role]:
                    if part != path:
                        part.unlink(missing_ok=True)
                self._render(role, pid, path)
        finally:
            shutil.rmtree(self._log_root, ignore_errors=True)

    def _render(self, role: str, pid: int, path: Path) -> None:
        from baseline.profiling.artifacts import render_artifacts
        from baseline.store import write_json_atomic

        result = self.result
        exited = role in result.exited
        notes = [note for note in result.notes if note.startswith(f"{role}:") or note.startswith(f"{role} ")]
        title = f"{result.prefix}{role} (pid {pid}, {result.rate} Hz)"
        try:
            files = render_artifacts(path, title=title, notes=notes, modules=self.modules)
        except Exception as exc:  # keep the folded truth even when a view cannot be rendered
            files = {"folded": path}
            result.notes.append(f"{role}: rendering failed: {exc}")
        sidecar = path.with_name(path.name.removesuffix(".folded") + ".capture.json")
        files["capture"] = write_json_atomic(
            sidecar,
            {
                "role": role,
                "pid": pid,
                "rate": result.rate,
                "idle": result.idle,
                "subprocesses": self._followed.get(role, False),
                "nonblocking": result.nonblocking,
                "started_at": self.started_at,
                "windows": self.windows,
                "seconds": round(result.seconds, 3),
                "samples": result.samples.get(role, 0),
                "sampler_cpu_s": _rounded(result.sampler_cpu_s.get(role)),
                "errors": self._errors.get(role),
                "exited_during_capture": exited,
                "py_spy_returncode": self._returncodes.get(role),
                "notes": notes,
            },
        )
        result.files[role] = files
