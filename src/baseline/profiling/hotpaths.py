"""Hot paths of a folded profile: where the samples go, in the terms the refactor plan asks about.

Stacks are normalised first (`folded.normalize`: no line numbers, no PIDs or passwords). Shares are fractions
of all samples. "Self" counts a sample for its leaf frame; "inclusive" counts it once for
every distinct frame on its stack (recursion does not double count). Pattern tuples below are matched
case-insensitively as substrings; a target adapter may pass its own to `analyze`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from baseline.profiling.folded import normalize, split_frame

__all__ = [
    "CATEGORIES",
    "DATABASE_PATTERNS",
    "IDLE_LEAF_NAMES",
    "IDLE_PATTERNS",
    "LOW_SAMPLES",
    "MESSAGE_PASSING_PATTERNS",
    "FrameFacts",
    "analyze",
    "classify_stack",
    "is_idle_stack",
    "low_sample_note",
    "render_markdown",
    "working_stacks",
]

#: A stack with any frame (name or file) matching one of these is database work or database wait.
DATABASE_PATTERNS: tuple[str, ...] = ("psycopg", "asyncpg", "libpq", "sqlalchemy")
#: Leaf functions that block on a socket; counted as database wait (the services talk mostly to PostgreSQL).
SOCKET_LEAF_NAMES: tuple[str, ...] = ("recv", "recv_into", "recvfrom", "send", "sendall", "readinto")
#: Leaf functions (unqualified names) that block without working: py-spy keeps such stacks only with `--idle`.
#: py-spy cannot see C functions, so a `time.sleep()` called straight from application code shows that code as
#: the leaf; it counts as idle only when its name says so (below), otherwise as application CPU.
IDLE_LEAF_NAMES: tuple[str, ...] = (
    "select",
    "poll",
    "epoll_wait",
    "sleep",
    "wait",
    "_wait",
    "wait_for",
    "accept",
    "idle",
    "<idle>",
)
#: Leaf names ending or starting like this block too (`idle_wait`, `Condition.wait`, `_wait_for_tstate_lock`).
IDLE_LEAF_SUFFIXES: tuple[str, ...] = ("wait", "sleep")
IDLE_LEAF_PREFIXES: tuple[str, ...] = ("wait_for", "_wait_for")
#: Event-loop entry points that show as the leaf while a C loop (uvloop) waits for I/O.
EVENT_LOOP_LEAF_NAMES: tuple[str, ...] = ("run", "run_forever", "run_until_complete")
#: A wait under one of these frames is a wait for a pooled database connection (contention), not idleness.
POOL_WAIT_PATTERNS: tuple[str, ...] = ("getconn", "connection (psycopg_pool")
#: Any frame matching these marks the whole stack idle (blocked waiting for LISTEN/NOTIFY wake-ups).
IDLE_PATTERNS: tuple[str, ...] = ("notifies", "wait_for_notify")
#: The leaf frame (the code on CPU) decides among these; the first category that matches wins.
CATEGORY_PATTERNS: dict[str, tuple[str, ...]] = {
    "serialization": ("json", "orjson", "pydantic", "msgpack", "pickle"),
    "logging": ("logging", "structlog"),
    "http_framework": ("fastapi", "starlette", "uvicorn", "h11", "httptools"),
}
CATEGORIES: tuple[str, ...] = (
    "database_wait",
    "serialization",
    "logging",
    "http_framework",
    "idle",
    "application_cpu",
)
#: Fewer samples than this and the views warn: a frame at the 5% hot-path threshold then has a binomial 95%
#: interval of +-1.9 pp (1.96 * sqrt(0.05 * 0.95 / 500)), under half the threshold, before autocorrelation widens it.
LOW_SAMPLES = 500
#: Queue publish/consume and NOTIFY code: the plan's "message passing overhead". Matched on name and file of
#: every frame of a non-idle stack.
MESSAGE_PASSING_PATTERNS: tuple[str, ...] = ("queue", "notify", "listen", "publish", "claim", "submit")


def _matches(frame: str, patterns: Sequence[str]) -> bool:
    low = frame.lower()
    return any(p in low for p in patterns)


def _stem(path: str) -> str:
    """`tasker/orchestration/lifecycle/step_enqueuer.py` -> `step_enqueuer`: a module is named by its file's stem,
    so a test module (test_step_enqueuer.py) never counts as the module it tests."""
    return path.rsplit("/", 1)[-1].removesuffix(".py")


def _function(frame: str) -> str:
    """Unqualified, lower-case function name: py-spy on 3.11+ writes `EpollSelector.select`."""
    return split_frame(frame)[0].strip().rsplit(".", 1)[-1].lower()


def _is_event_loop_leaf(frame: str) -> bool:
    """An asyncio runner as the leaf: the loop (uvloop's, in C) is polling where py-spy cannot see."""
    name, path = split_frame(frame)
    return bool(path) and "asyncio" in path and name.rsplit(".", 1)[-1] in EVENT_LOOP_LEAF_NAMES


def _is_idle_leaf(name: str) -> bool:
    return name in IDLE_LEAF_NAMES or name.endswith(IDLE_LEAF_SUFFIXES) or name.startswith(IDLE_LEAF_PREFIXES)


class FrameFacts:
    """Pattern hits per distinct frame, computed once: a profile repeats the same frames in thousands of stacks."""

    def __init__(self, message_passing: Sequence[str] = (), modules: Sequence[str] = ()) -> None:
        self._mp = tuple(p.lower() for p in message_passing)
        self._modules = tuple(modules)
        self._cache: dict[str, tuple[bool, bool, bool, tuple[str, ...]]] = {}

    def __call__(self, frame: str) -> tuple[bool, bool, bool, tuple[str, ...]]:
        """(blocked-on-notify, database, message passing, lifecycle modules whose name is the frame's file stem)."""
        facts = self._cache.get(frame)
        if facts is None:
            low = frame.lower()
            path = split_frame(frame)[1] or frame
            facts = self._cache[frame] = (
                any(p in low for p in IDLE_PATTERNS),
                any(p in low for p in DATABASE_PATTERNS),
                any(p in low for p in self._mp),
                tuple(m for m in self._modules if _stem(path) == m),
            )
        return facts


def _classify(
    frames: Sequence[str],
    facts: list[tuple[bool, bool, bool, tuple[str, ...]]],
    category_patterns: Mapping[str, Sequence[str]] | None,
) -> str:
    if any(f[0] for f in facts):
        return "idle"
    leaf_frame = frames[-1]
    if _matches(leaf_frame, DATABASE_PATTERNS):
        return "database_wait"
    leaf = _function(leaf_frame)
    if _is_idle_leaf(leaf) or _is_event_loop_leaf(leaf_frame):
        # A thread parked on a lock, queue or selector is idle even under a pool's frames (pool workers wait for
        # jobs), except a wait for a pooled connection: that is contention for the database.
        return "database_wait" if any(_matches(f, POOL_WAIT_PATTERNS) for f in frames) else "idle"
    if any(f[1] for f in facts):
        return "database_wait"
    if leaf in SOCKET_LEAF_NAMES:
        return "database_wait"
    patterns = CATEGORY_PATTERNS if category_patterns is None else category_patterns
    for category, pats in patterns.items():
        if _matches(frames[-1], pats):
            return category
    return "application_cpu"


def classify_stack(
    frames: Sequence[str],
    category_patterns: Mapping[str, Sequence[str]] | None = None,
    *,
    facts: FrameFacts | None = None,
) -> str:
    """One category per stack, by what it was doing: a stack blocked in a NOTIFY wait is idle; any database driver
    frame makes it database work/wait; otherwise the leaf frame decides (socket read -> database wait, a wait
    function -> idle, serialization / logging / HTTP framework code), and the rest is application CPU."""
    if not frames:
        raise ValueError("a stack needs at least one frame")
    known = facts or FrameFacts()
    return _classify(frames, [known(f) for f in set(frames)], category_patterns)


def is_idle_stack(frames: Sequence[str], *, facts: FrameFacts | None = None) -> bool:
    """True when the stack is waiting, not working (and not waiting on the database)."""
    return classify_stack(frames, facts=facts) == "idle"


def working_stacks(stacks: Mapping[str, int]) -> dict[str, int]:
    """The profile without its idle stacks (normalised): what the process did while it worked or waited on the
    database, for a service that sits idle most of a window."""
    facts = FrameFacts()
    return {
        stack: count
        for stack, count in normalize(stacks).items()
        if count > 0 and not is_idle_stack(stack.split(";"), facts=facts)
    }


def low_sample_note(samples: int) -> str | None:
    """A warning for a profile of fewer than LOW_SAMPLES samples (None otherwise, and for an empty one)."""
    if samples <= 0 or samples >= LOW_SAMPLES:
        return None
    ci = 196 * (0.05 * 0.95 / samples) ** 0.5
    return (
        f"only {samples} samples (under {LOW_SAMPLES}): a 5% frame's share is known to ±{ci:.1f} pp at best "
        "(binomial 95%); small frames and their order are noise"
    )


def _share(samples: int, total: int) -> float:
    return samples / total if total else 0.0


def _ranked(
    counts: Mapping[str, int], total: int, top: int, idle_counts: Mapping[str, int] | None = None
) -> list[dict[str, Any]]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    rows: list[dict[str, Any]] = [{"frame": f, "samples": n, "share": _share(n, total)} for f, n in ranked]
    if idle_counts is not None:  # a leaf whose samples are all idle waits is not a hot function
        for row in rows:
            row["idle"] = idle_counts.get(str(row["frame"]), 0) == row["samples"]
    return rows


def analyze(
    stacks: Mapping[str, int],
    *,
    top: int = 15,
    threshold: float = 0.05,
    modules: Sequence[str] = (),
    message_passing_patterns: Sequence[str] = MESSAGE_PASSING_PATTERNS,
    category_patterns: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Hot-path analysis of one profile (see the module docstring for what the shares mean).

    `modules` are a target's lifecycle modules, each named by its source file's stem; their inclusive shares are
    reported.
    `frames_over_threshold` lists frames whose SELF share is at least `threshold` (the plan's "functions over
    5% each"), leaving out leaves that only ever wait idle; inclusive shares of outer frames such as `<module>`
    are near 100% and say nothing. Rows of `top_self` carry `idle: True` for such waits.
    """
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top!r}")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be a share in (0, 1], got {threshold!r}")
    total = 0
    self_counts: dict[str, int] = {}
    idle_self: dict[str, int] = {}
    incl_counts: dict[str, int] = {}
    module_counts = dict.fromkeys(modules, 0)
    category_counts = dict.fromkeys(CATEGORIES, 0)
    if category_patterns:
        for extra in category_patterns:
            category_counts.setdefault(extra, 0)
    message_passing = 0
    idle = 0
    mp = tuple(p.lower() for p in message_passing_patterns)
    frame_facts = FrameFacts(mp, modules)
    for stack, count in normalize(stacks).items():
        if count <= 0:
            continue
        frames = stack.split(";")
        total += count
        self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + count
        uniq = set(frames)
        facts = []
        for frame in uniq:
            incl_counts[frame] = incl_counts.get(frame, 0) + count
            facts.append(frame_facts(frame))
        for mod in {m for f in facts for m in f[3]}:
            module_counts[mod] += count
        category = _classify(frames, facts, category_patterns)
        category_counts[category] += count
        if category == "idle":
            idle += count
            idle_self[frames[-1]] = idle_self.get(frames[-1], 0) + count
        elif any(f[2] for f in facts):
            message_passing += count
    if total == 0:
        raise ValueError("the profile has no samples: check that py-spy ran while the workload was active")
    over = [
        {"frame": f, "samples": n, "share": _share(n, total)}
        for f, n in sorted(self_counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if _share(n, total) >= threshold and idle_self.get(f, 0) < n
    ]
    active = total - idle
    return {
        "total_samples": total,
        "idle_samples": idle,
        "threshold": threshold,
        "top_self": _ranked(self_counts, total, top, idle_self),
        "top_inclusive": _ranked(incl_counts, total, top),
        "modules": {m: {"samples": n, "share": _share(n, total)} for m, n in module_counts.items()},
        "categories": {c: {"samples": n, "share": _share(n, total)} for c, n in category_counts.items()},
        "message_passing": {
            "samples": message_passing,
            "share": _share(message_passing, total),
            "active_share": _share(message_passing, active),
            "patterns": list(mp),
        },
        "frames_over_threshold": over,
    }


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def render_markdown(analysis: Mapping[str, Any], title: str) -> str:
    """Markdown hot-path report: breakdown tables, then the top frames by self and inclusive share."""
    total = analysis["total_samples"]
    lines = [f"## {_md_escape(title)}", "", f"{total} samples ({analysis.get('idle_samples', 0)} idle).", ""]
    if (low := low_sample_note(total)) is not None:
        lines[-1:] = ["", f"> ⚠ {low}", ""]
    lines += ["| breakdown | samples | share |", "|---|---:|---:|"]
    for name, entry in analysis["categories"].items():
        lines.append(f"| {name} | {entry['samples']} | {_pct(entry['share'])} |")
    mp = analysis["message_passing"]
    lines.append(f"| message passing (queue / NOTIFY code) | {mp['samples']} | {_pct(mp['share'])} |")
    for name, entry in analysis["modules"].items():
        lines.append(f"| lifecycle module `{_md_escape(name)}` | {entry['samples']} | {_pct(entry['share'])} |")
    threshold = analysis.get("threshold", 0.05)
    for key, label in (("top_self", "self"), ("top_inclusive", "inclusive")):
        lines += ["", f"| top frames by {label} share | samples | share |", "|---|---:|---:|"]
        for row in analysis[key]:
            hot = label == "self" and row["share"] >= threshold and not row.get("idle", False)
            mark = " **hot**" if hot else " (idle)" if row.get("idle") else ""
            lines.append(f"| `{_md_escape(row['frame'])}`{mark} | {row['samples']} | {_pct(row['share'])} |")
    over = analysis["frames_over_threshold"]
    lines += ["", f"Frames over {_pct(threshold)} self share (idle waits excluded): {len(over)}."]
    return "\n".join(lines) + "\n"
