"""One error model for the whole harness, mapped to exit codes in one place (`baseline.cli.main`).

Every expected failure is a `HarnessError` of one of two kinds:
- `BadInput` (exit 2): what the user gave is wrong or missing (a config value, a label, a result file, the
  criteria, a missing tool); the message names the fix.
- `Failure` (exit 1): what was measured, or the services it runs on, failed (a process died, a bench's check
  did not hold, py-spy could not attach); the message says what failed and where its log is.
Anything else is a bug and reaches the user with its traceback.
"""

from __future__ import annotations

from typing import ClassVar

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class HarnessError(Exception):
    """Base of every error the harness expects; `exit_code` is what the CLI exits with."""

    exit_code: ClassVar[int] = EXIT_FAILED
    kind: ClassVar[str] = "failed"


class BadInput(HarnessError):
    """The input is wrong (config, label, file, criteria, a missing tool); the message names the fix."""

    exit_code = EXIT_BAD_INPUT
    kind = "error"


class Failure(HarnessError):
    """Something measured or started failed (a process, a bench check, the profiler); the message says where."""

    exit_code = EXIT_FAILED
    kind = "failed"


def one_line(text: str) -> str:
    """A message on one line, for the console and the manifest."""
    return " ".join(str(text).split())
