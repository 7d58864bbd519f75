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


def test_the_sql_slowdown_is_sized_on_the_functions_slowest_case(tmp_path: Path) -> None:
    from baseline.targets.tasker import TaskerTarget

    functions = tmp_path / "src/tasker/sql/functions"
    functions.mkdir(parents=True)
    original = (ROOT / "src/tasker/sql/functions/get_step_readiness_status.sql").read_text()
    (functions / "get_step_readiness_status.sql").write_text(original)
    measured = {
        "sql/calibrate/select_1": 10_000.0,
        "sql/calibrate/cpu_loop": 110_000.0,  # 100 ns per row
        "sql/get_step_readiness_status/sample=1": 200_000.0,
        "sql/get_step_readiness_status/sample=3": 500_000.0,  # the slowest: +10% of it is 50 us, 500 rows
        "sql/get_task_execution_context/sample=1": 900_000.0,  # another function's case sizes nothing
    }
    injection = TaskerTarget().inject(tmp_path, "sql", 0.10, measured)
    assert injection.function == "get_step_readiness_status"
    assert "sample=3" in injection.description
    assert "generate_series(1, 500);" in (functions / "get_step_readiness_status.sql").read_text()
