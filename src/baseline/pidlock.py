"""Exclusive, non-blocking flock on a file that holds its owner's pid, so a refused caller can say who holds it.

The label lock (store) and the work-dir lock (services.stack) are both this, each with its own re-entrancy.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path


def acquire(path: Path) -> int | None:
    """The locked file's descriptor, with our pid written in it; None when another process holds the lock."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            raise
        return None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def release(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def holder(path: Path) -> int | None:
    """The pid written in a lock file, or None (no file, empty, or not a pid)."""
    try:
        text = path.read_text().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
