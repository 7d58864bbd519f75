"""Hot-path analysis on synthetic folded input whose shares are known exactly."""

from __future__ import annotations

import pytest

from baseline.profiling import hotpaths

LC = "tasker/orchestration/lifecycle"
STACKS = {
    f"<module> (app.py);main (app.py);initialize ({LC}/task_initializer.py);execute (psycopg/cursor.py);"
    "wait (psycopg/waiting.py)": 300,
    f"<module> (app.py);main (app.py);enqueue ({LC}/step_enqueuer.py);publish (tasker/messaging/queue.py)": 100,
    f"<module> (app.py);main (app.py);process ({LC}/result_processor.py);iterencode (json/encoder.py)": 150,
    f"<module> (app.py);main (app.py);finalize ({LC}/task_finalizer.py);emit (logging/__init__.py)": 50,
    "<module> (app.py);serve (uvicorn/server.py);handle (starlette/routing.py)": 100,
    "<module> (app.py);serve (uvicorn/server.py);select (selectors.py)": 200,
    "<module> (app.py);main (app.py);compute (tasker/handlers.py);compute (tasker/handlers.py)": 60,
    "<module> (app.py);worker (tasker/worker.py);claim (tasker/worker.py);execute (psycopg/cursor.py)": 40,
}


MODULES = ("task_initializer", "step_enqueuer", "result_processor", "task_finalizer")


@pytest.fixture(scope="module")
def analysis() -> dict:
    return hotpaths.analyze(STACKS, top=20, modules=MODULES)


def test_no_module_shares_unless_a_target_names_its_modules() -> None:
    assert hotpaths.analyze(STACKS)["modules"] == {}


def test_a_module_is_its_file_stem_so_its_test_module_does_not_count() -> None:
    stacks = {
        "run (tests/lifecycle/test_step_enqueuer.py);start_task (tasker/orchestration/lifecycle/step_enqueuer.py)": 30,
        "run (tests/lifecycle/test_step_enqueuer.py);helper (tests/lifecycle/conftest.py)": 70,
    }
    assert hotpaths.analyze(stacks, modules=("step_enqueuer",))["modules"]["step_enqueuer"]["share"] == 0.3


def _shares(rows: list[dict]) -> dict[str, float]:
    return {r["frame"]: r["share"] for r in rows}


def test_totals_and_categories(analysis: dict) -> None:
    assert analysis["total_samples"] == 1000 and analysis["idle_samples"] == 200
    cats = {k: v["samples"] for k, v in analysis["categories"].items()}
    assert cats == {
        "database_wait": 340,
        "serialization": 150,
        "logging": 50,
        "http_framework": 100,
        "idle": 200,
        "application_cpu": 160,
    }
    assert analysis["categories"]["database_wait"]["share"] == pytest.approx(0.34)


def test_lifecycle_module_shares(analysis: dict) -> None:
    assert {m: v["share"] for m, v in analysis["modules"].items()} == pytest.approx(
        {"task_initializer": 0.30, "step_enqueuer": 0.10, "result_processor": 0.15, "task_finalizer": 0.05}
    )


def test_message_passing_share(analysis: dict) -> None:
    mp = analysis["message_passing"]
    assert mp["samples"] == 140  # publish (queue) 100 + claim 40; idle stacks never count
    assert mp["share"] == pytest.approx(0.14) and mp["active_share"] == pytest.approx(0.175)


def test_self_and_inclusive_rankings(analysis: dict) -> None:
    top_self = analysis["top_self"]
    assert top_self[0] == {"frame": "wait (psycopg/waiting.py)", "samples": 300, "share": 0.3, "idle": False}
    assert top_self[1] == {"frame": "select (selectors.py)", "samples": 200, "share": 0.2, "idle": True}
    assert _shares(top_self)["execute (psycopg/cursor.py)"] == pytest.approx(0.04)
    incl = _shares(analysis["top_inclusive"])
    assert incl["<module> (app.py)"] == 1.0
    assert incl["main (app.py)"] == pytest.approx(0.66)
    assert incl["execute (psycopg/cursor.py)"] == pytest.approx(0.34)
    assert incl["compute (tasker/handlers.py)"] == pytest.approx(0.06)  # recursion counted once
    assert [r["frame"] for r in analysis["top_inclusive"][:2]] == ["<module> (app.py)", "main (app.py)"]


def test_frames_over_threshold_by_self_share_without_idle_waits(analysis: dict) -> None:
    assert [r["frame"] for r in analysis["frames_over_threshold"]] == [
        "wait (psycopg/waiting.py)",
        "iterencode (json/encoder.py)",
        "handle (starlette/routing.py)",
        "publish (tasker/messaging/queue.py)",
        "compute (tasker/handlers.py)",
        "emit (logging/__init__.py)",
    ]


def test_top_limits_rows_and_patterns_are_extensible() -> None:
    small = hotpaths.analyze(STACKS, top=3, message_passing_patterns=("handlers",))
    assert len(small["top_self"]) == 3 and len(small["top_inclusive"]) == 3
    assert small["message_passing"]["samples"] == 60


def test_render_markdown_table(analysis: dict) -> None:
    md = hotpaths.render_markdown(analysis, "lifecycle (run 1)")
    assert md.startswith("## lifecycle (run 1)")
    assert "| database_wait | 340 | 34.0% |" in md
    assert "| message passing (queue / NOTIFY code) | 140 | 14.0% |" in md
    assert "| lifecycle module `task_initializer` | 300 | 30.0% |" in md
    assert "| `wait (psycopg/waiting.py)` **hot** | 300 | 30.0% |" in md
    assert "| `select (selectors.py)` (idle) | 200 | 20.0% |" in md


def test_empty_profile_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no samples"):
        hotpaths.analyze({})


def test_parked_threads_and_event_loop_are_idle_but_pool_and_driver_waits_are_database() -> None:
    pool_worker = [
        "Thread._bootstrap (threading.py)",
        "worker (psycopg_pool/pool.py)",
        "Queue.get (queue.py)",
        "Condition.wait (threading.py)",
    ]
    anyio_worker = [
        "Thread._bootstrap (threading.py)",
        "WorkerThread.run (anyio/_backends/_asyncio.py)",
        "Queue.get (queue.py)",
        "Condition.wait (threading.py)",
    ]
    loop = ["<module> (tasker)", "main (tasker/cli.py)", "Runner.run (asyncio/runners.py)"]
    pool_contention = [
        "handler (app.py)",
        "ConnectionPool.getconn (psycopg_pool/pool.py)",
        "Condition.wait (threading.py)",
    ]
    driver_wait = ["handler (app.py)", "Cursor.execute (psycopg/cursor.py)", "Connection.wait (psycopg/connection.py)"]
    assert hotpaths.classify_stack(pool_worker) == "idle"
    assert hotpaths.classify_stack(anyio_worker) == "idle"
    assert hotpaths.classify_stack(loop) == "idle"
    assert hotpaths.classify_stack(pool_contention) == "database_wait"
    assert hotpaths.classify_stack(driver_wait) == "database_wait"
    # Idle parked threads never count as message passing, although `queue.py` is in their stacks.
    analysis = hotpaths.analyze({";".join(pool_worker): 90, ";".join(driver_wait): 10})
    assert analysis["message_passing"]["samples"] == 0


def test_working_stacks_leave_out_exactly_the_idle_ones(analysis: dict) -> None:
    working = hotpaths.working_stacks(STACKS)
    assert sum(working.values()) == analysis["total_samples"] - analysis["idle_samples"] == 800
    assert "<module> (app.py);serve (uvicorn/server.py);select (selectors.py)" not in working
    assert working["<module> (app.py);serve (uvicorn/server.py);handle (starlette/routing.py)"] == 100
    assert hotpaths.analyze(working)["idle_samples"] == 0


def test_a_small_profile_is_flagged_in_its_markdown() -> None:
    small = hotpaths.render_markdown(hotpaths.analyze({"a (x.py)": 89}), "quick")
    assert f"> ⚠ only 89 samples (under {hotpaths.LOW_SAMPLES})" in small and "±4.5 pp" in small
    assert hotpaths.low_sample_note(hotpaths.LOW_SAMPLES) is None and hotpaths.low_sample_note(0) is None
    assert "⚠" not in hotpaths.render_markdown(hotpaths.analyze({"a (x.py)": hotpaths.LOW_SAMPLES}), "full")
