"""Known slowdowns written into a copy of the engine's source, for the verdict check's power runs: more work in one
SQL function (server side), and a delay in every step's handler (the E2E chain). Pure text edits."""

from __future__ import annotations

import re

from baseline.errors import Failure

_PLPGSQL_BEGIN = re.compile(r"^BEGIN[ \t]*$", re.MULTILINE)
_RUN_HANDLER = re.compile(r'^def run_handler\(.*\) -> Any:\n(?P<doc>    """.*?"""\n)?', re.MULTILINE | re.DOTALL)


def slow_sql_function(text: str, rows: int) -> str:
    """A PL/pgSQL function that first runs a fixed server-side CPU loop of `rows` rows on every call."""
    match = _PLPGSQL_BEGIN.search(text)
    if match is None or "LANGUAGE plpgsql" not in text:
        raise Failure("cannot inject a slowdown: the function is not PL/pgSQL with a BEGIN line of its own")
    loop = f"\n    PERFORM count(*) FROM generate_series(1, {int(rows)});  -- injected by verdict-check"
    return text[: match.end()] + loop + text[match.end() :]


def slow_handler(text: str, seconds: float) -> str:
    """The engine's handler entry point, sleeping `seconds` before every step."""
    match = _RUN_HANDLER.search(text)
    if match is None:
        raise Failure("cannot inject a slowdown: handlers.py has no `def run_handler(...) -> Any:` to delay")
    delay = f"    time.sleep({seconds!r})  # injected by verdict-check\n"
    return text[: match.end()] + delay + text[match.end() :]
