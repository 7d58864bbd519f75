"""The verdict check's known slowdowns, written into the engine's real source files."""

from __future__ import annotations

from pathlib import Path

import pytest

from baseline.errors import Failure
from baseline.targets.tasker.inject import slow_handler, slow_sql_function

ROOT = Path(__file__).resolve().parents[2]


def test_a_cpu_loop_opens_the_plpgsql_body_of_the_calibrated_function() -> None:
    text = (ROOT / "src/tasker/sql/functions/get_step_readiness_status.sql").read_text()
    slowed = slow_sql_function(text, 1234)
    body = slowed[slowed.index("AS $$") :]
    assert body.split("\n")[2:4] == [
        "BEGIN",
        "    PERFORM count(*) FROM generate_series(1, 1234);  -- injected by verdict-check",
    ]
    assert (
        slowed.replace("\n    PERFORM count(*) FROM generate_series(1, 1234);  -- injected by verdict-check", "")
        == text
    )


def test_the_handler_entry_point_sleeps_first() -> None:
    text = (ROOT / "src/tasker/handlers.py").read_text()
    slowed = slow_handler(text, 0.0005)
    start = slowed.index("def run_handler(")
    assert "    time.sleep(0.0005)  # injected by verdict-check\n" in slowed[start : start + 300]
    compile(slowed, "handlers.py", "exec")


def test_what_cannot_be_slowed_is_said() -> None:
    with pytest.raises(Failure, match="not PL/pgSQL"):
        slow_sql_function("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;", 10)
    with pytest.raises(Failure, match="no `def run_handler"):
        slow_handler("def other(): pass\n", 0.1)
