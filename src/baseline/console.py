"""What the harness prints for people: one-line notes, and a console that is wide enough in logs.

Plain text when nobody is at a terminal (CI logs, pipes): no escape codes, no bars, nothing squeezed to 80 columns.
"""

from __future__ import annotations

import sys

from rich.console import Console

LOG_WIDTH = 200  # a log is read in a wide viewer: tables keep their rows on one line


def console(stderr: bool = False) -> Console:
    """A rich console: styled at a terminal, plain and wide in a log."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(file=stream, highlight=False)
    return Console(file=stream, highlight=False, width=LOG_WIDTH, no_color=True, force_terminal=False)


def say(message: str) -> None:
    """A one-line note about what the harness is doing, on stderr so results on stdout stay clean."""
    print(f"[baseline] {message}", file=sys.stderr, flush=True)
