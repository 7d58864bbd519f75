"""Every read of Linux's /proc the harness makes: process identity and state, CPU counters, machine facts.

Readers return None (or an empty value) where the file is missing or unreadable, so the callers decide what an
unknown means; the parsers of the files' text are pure and unit-tested on fixed text.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def read_text(path: str | Path) -> str:
    """A /proc (or any) file's text, "" when it cannot be read."""
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses)."""
    text = read_text(PROC / str(pid) / "stat")
    if not text:
        return None
    return text.rsplit(")", 1)[1].split()


def process_start_time(pid: int) -> int | None:
    """Start time of `pid` in clock ticks since boot (stat field 22): tells a process from a later one given its pid."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def process_state(pid: int) -> str | None:
    """The one-letter scheduler state (R, S, D, Z, X...), None when there is no such process."""
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def process_gone(pid: int) -> bool:
    """True when `pid` has exited; a zombie waiting for its parent counts as gone."""
    state = process_state(pid)
    return state is None or state in {"Z", "X"}


def pid_alive(pid: int, start_time: int | None = None) -> bool:
    """A live, non-zombie process (and, when given, the same start time as recorded)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if process_gone(pid):
        return False
    return start_time is None or process_start_time(pid) == start_time


def thread_ids(pid: int) -> list[int]:
    """The thread ids of a process; [] when it is gone."""
    try:
        return sorted(int(task.name) for task in (PROC / str(pid) / "task").iterdir())
    except (OSError, ValueError):
        return []


def child_pids(pid: int) -> list[int]:
    """The processes any thread of `pid` has forked and not yet lost; [] when it is gone."""
    children: list[int] = []
    for tid in thread_ids(pid):
        children.extend(int(c) for c in read_text(PROC / str(pid) / "task" / str(tid) / "children").split())
    return children


def has_children(pid: int) -> bool:
    """Whether any thread of `pid` has child processes (unknown counts as yes)."""
    if not thread_ids(pid):
        return True
    return bool(child_pids(pid))


def threads_cpu_seconds(pid: int) -> float | None:
    """CPU time a live process's threads have used so far, from the scheduler's ns counters (schedstat); None where
    unreadable. /proc/<pid>/stat would give it in 10 ms ticks, too coarse for one short window."""
    try:
        return (
            sum(int((task / "schedstat").read_text().split()[0]) for task in (PROC / str(pid) / "task").iterdir()) / 1e9
        )
    except (OSError, ValueError, IndexError):
        return None


def parse_cpu_ticks(stat_text: str) -> dict[str, int]:
    """Total and steal ticks from /proc/stat's first line (user..steal); {} when the text has none."""
    lines = stat_text.splitlines()
    if not lines or not lines[0].startswith("cpu"):
        return {}
    ticks = [int(v) for v in lines[0].split()[1:]]
    return {"cpu_ticks": sum(ticks[:8]), "steal_ticks": ticks[7] if len(ticks) > 7 else 0}


def cpu_ticks() -> dict[str, int]:
    """The machine's CPU ticks so far, all and stolen by the hypervisor; {} where /proc/stat is unreadable."""
    return parse_cpu_ticks(read_text(PROC / "stat"))


def parse_cpuinfo(text: str) -> str | None:
    """The CPU model name from /proc/cpuinfo text (x86 'model name', ARM 'Model'/'Hardware')."""
    for key in ("model name", "Model", "Hardware", "cpu model"):
        for line in text.splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip() == key and value.strip():
                return value.strip()
    return None


def parse_meminfo(text: str) -> int | None:
    """MemTotal in bytes from /proc/meminfo text."""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            factor = 1024 if len(parts) > 2 and parts[2].lower() == "kb" else 1
            return int(parts[1]) * factor
    return None


def cpu_model() -> str | None:
    return parse_cpuinfo(read_text(PROC / "cpuinfo"))


def memory_bytes() -> int | None:
    return parse_meminfo(read_text(PROC / "meminfo"))


def ptrace_scope() -> str:
    """Yama's ptrace scope ("0" lets any process trace its peers), "" where the kernel has no Yama."""
    return read_text(PROC / "sys" / "kernel" / "yama" / "ptrace_scope").strip()
