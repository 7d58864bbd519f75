"""Collapsed-stack ("folded") text: the stored, diffable form of every profile.

One stack per line, frames root-first separated by ';', then a space and a sample count: `a;b;c 12`.
py-spy writes frames as `function (path/file.py:LINE)`, or without `:LINE` under `--nolineno`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

__all__ = [
    "NO_PYTHON_FRAMES",
    "SUBPROCESS",
    "dump",
    "frame_file",
    "frame_name",
    "merge",
    "normalize",
    "normalize_frame",
    "parse",
    "split_frame",
    "strip_line_numbers",
    "total",
]

NO_PYTHON_FRAMES = "<no Python frames>"
_LINE_NO = re.compile(r":\d+\)$")
_FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^()]*)\)$")
_PROCESS = re.compile(r'^process \d+:"(?P<cmd>.*)"$')  # py-spy --subprocesses root frame
_PROCESS_ROOT = 'process "'  # a process frame once normalised
SUBPROCESS = 'subprocess "'  # how a child process's frame reads after `normalize`
_THREAD = re.compile(r"^thread \((?:0x[0-9A-Fa-f]+|\d+)\)$")  # py-spy --threads root frame
_URL_SECRET = re.compile(r"(?P<scheme>[A-Za-z][\w+.-]*://[^:/@\s]*):[^@\s]*@")
_KV_SECRET = re.compile(r"(?P<key>password|passwd|pwd)=\S+", re.IGNORECASE)
_LONG_NUMBER = re.compile(r"\d{4,}")


def parse(text: str) -> dict[str, int]:
    """Parse folded text into {stack: samples}; repeated stacks add up. Blank lines are ignored.

    The count follows the LAST space, so frames may contain spaces (py-spy's `func (file.py)` do). py-spy also
    writes lines with a count but no frames (samples without Python code, e.g. interpreter start-up); they are
    kept under the frame NO_PYTHON_FRAMES so totals match py-spy's.
    """
    stacks: dict[str, int] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        stack, sep, count_text = raw.rstrip().rpartition(" ")
        is_count = count_text.isascii() and count_text.isdigit()
        if sep and not stack.strip() and is_count:
            stack = NO_PYTHON_FRAMES
        elif not sep or not is_count:
            shown = line if len(line) <= 80 else line[:77] + "..."
            raise ValueError(
                f"folded stacks line {lineno} is not 'frame;frame;... COUNT' (a stack, a space, a whole "
                f"number): {shown!r}"
            )
        stack = stack.strip()
        stacks[stack] = stacks.get(stack, 0) + int(count_text)
    return stacks


def dump(stacks: Mapping[str, int]) -> str:
    """Folded text, one stack per line sorted by stack, ending in a newline (empty mapping -> "")."""
    lines = []
    for stack, count in sorted(stacks.items()):
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError(f"sample count of stack {stack!r} must be a non-negative integer, got {count!r}")
        if "\n" in stack or not stack.strip():
            raise ValueError(f"stack {stack!r} must be a non-empty single line")
        lines.append(f"{stack} {count}\n")
    return "".join(lines)


def merge(*stacks: Mapping[str, int]) -> dict[str, int]:
    """Sum several profiles (e.g. the runs of one baseline) into one."""
    merged: dict[str, int] = {}
    for profile in stacks:
        for stack, count in profile.items():
            merged[stack] = merged.get(stack, 0) + count
    return merged


_INSTANCE = re.compile(r"^(?P<kind>.+?)-\d+$")


def profile_kind(name: str) -> str:
    """The profile of a role kind, from one of an instance (`e2e-worker-2` -> `e2e-worker`): instances of one kind
    share its work as they happen to claim it, so only their sum compares between two stacks."""
    match = _INSTANCE.match(name)
    return match.group("kind") if match else name


def strip_line_numbers(stacks: Mapping[str, int]) -> dict[str, int]:
    """Drop py-spy's `:LINE` from every frame so samples aggregate by function."""
    out: dict[str, int] = {}
    for stack, count in stacks.items():
        key = ";".join(_LINE_NO.sub(")", frame) for frame in stack.split(";"))
        out[key] = out.get(key, 0) + count
    return out


@lru_cache(maxsize=65536)
def normalize_frame(frame: str, keep_line_numbers: bool = False) -> str:
    """One frame made comparable across runs and safe to publish.

    Drops `:LINE`; turns py-spy's `process 4242:"cmd"` into `process "cmd"` with passwords redacted and long
    numbers (ports, PIDs in paths) replaced by N; turns `thread (0x7f..)` into `thread`.
    """
    m = _PROCESS.match(frame)
    if m:
        cmd = _URL_SECRET.sub(r"\g<scheme>:***@", m.group("cmd"))
        cmd = _LONG_NUMBER.sub("N", _KV_SECRET.sub(r"\g<key>=***", cmd))
        return f'process "{cmd}"'
    if _THREAD.match(frame):
        return "thread"
    return frame if keep_line_numbers else _LINE_NO.sub(")", frame)


def _rooted(frames: list[str]) -> list[str]:
    """The profiled process's own frame dropped, its children's renamed `subprocess "cmd"`.

    py-spy writes `process "..."` frames only under --subprocesses, which the capture uses for some runs (a role
    with children when attached, the lifecycle command) and not others; the outermost one names the process that
    was profiled, which the file already says. Dropped, the same code gives the same tree either way. The frames of
    child processes stay, renamed so that a second pass does not drop them too.
    """
    if frames and frames[0].startswith(_PROCESS_ROOT):
        frames = frames[1:]
    renamed = [SUBPROCESS + f.removeprefix(_PROCESS_ROOT) if f.startswith(_PROCESS_ROOT) else f for f in frames]
    return renamed or [NO_PYTHON_FRAMES]


def normalize(stacks: Mapping[str, int], *, keep_line_numbers: bool = False) -> dict[str, int]:
    """`normalize_frame` on every frame and the process root frames made alike (`_rooted`); stacks that become
    equal are summed. Idempotent, and the same for a merged profile as for its runs merged after it.

    With `keep_line_numbers`, only process and thread frames are rewritten.
    """
    out: dict[str, int] = {}
    for stack, count in stacks.items():
        key = ";".join(_rooted([normalize_frame(frame, keep_line_numbers) for frame in stack.split(";")]))
        out[key] = out.get(key, 0) + count
    return out


def total(stacks: Mapping[str, int]) -> int:
    return sum(stacks.values())


def split_frame(frame: str) -> tuple[str, str]:
    """`func (path/file.py:12)` -> ("func", "path/file.py:12"); a frame without a file gives (frame, "")."""
    m = _FRAME.match(frame)
    if m:
        return m.group("name"), m.group("file")
    return frame, ""


def frame_name(frame: str) -> str:
    return split_frame(frame)[0]


def frame_file(frame: str) -> str:
    return split_frame(frame)[1]
