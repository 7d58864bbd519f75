"""SQL function bench: client round trip per call, server time from pg_stat_statements, EXPLAIN per function.

Calibration in the same run: `SELECT 1` through the Sampler, and a bare psycopg loop of one benched statement
on the same connection, so the report can state the harness's own overhead.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import psycopg

from baseline.benches.common import (
    BenchError,
    bare_loop,
    case_from,
    make_case,
    maybe_profile,
    overhead_ratio,
    sampler_for,
    self_pid,
    workload_of,
)

CALIBRATED_CASE = "sql/get_step_readiness_status/sample=1"
BARE_CASE = "sql/calibrate/bare_psycopg/get_step_readiness_status"
PROCESSOR_UUID = uuid.UUID("00000000-0000-4000-8000-00000000b3c4")


def _server_sql(statement: str) -> str:
    """The statement as pg_stat_statements stores it: psycopg's %s placeholders become $1, $2, ..."""
    parts = statement.split("%s")
    return "".join(part + (f"${i}" if i < len(parts) else "") for i, part in enumerate(parts, start=1))


class StatStatements:
    """Per-statement call and execution-time counters, read on a side connection before and after a case."""

    def __init__(self, dsn: str) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.dbname = self.conn.info.dbname
        self.reason: str | None = None
        preload = self.conn.execute("SHOW shared_preload_libraries").fetchone()
        if not preload or "pg_stat_statements" not in preload[0]:
            self.reason = "pg_stat_statements is not preloaded on this server"
            return
        try:
            self.conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        except psycopg.Error as exc:
            self.reason = f"cannot create extension pg_stat_statements: {exc}".strip()

    def snapshot(self, statement: str) -> tuple[int, float] | None:
        if self.reason:
            return None
        row = self.conn.execute(
            "SELECT coalesce(sum(calls), 0)::bigint, coalesce(sum(total_exec_time), 0)::float8 "
            "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "WHERE d.datname = %s AND s.toplevel AND s.query = %s",
            (self.dbname, _server_sql(statement)),
        ).fetchone()
        return (int(row[0]), float(row[1])) if row else (0, 0.0)

    def delta(self, before: tuple[int, float] | None, statement: str) -> dict[str, Any]:
        after = self.snapshot(statement)
        if before is None or after is None:
            return {"server_mean_exec_ns": None, "server_note": self.reason}
        calls = after[0] - before[0]
        if calls <= 0:
            return {"server_mean_exec_ns": None, "server_note": "no calls recorded by pg_stat_statements"}
        return {"server_calls": calls, "server_mean_exec_ns": round((after[1] - before[1]) * 1e6 / calls)}

    def close(self) -> None:
        self.conn.close()


def _explain(conn: psycopg.Connection, statements: list[Any], out_dir: Path, workload: Any) -> dict[str, str]:
    """EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) of each function's first case, rolled back (some write)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    for st in statements:
        if st.function in written:
            continue
        params = st.params
        if st.transition:
            params = workload.transition_params(st.params[0], st.params[1], PROCESSOR_UUID)
        conn.execute("BEGIN")
        try:
            plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + st.sql, params).fetchone()[0]
        finally:
            conn.execute("ROLLBACK")
        path = out_dir / f"{st.function}.json"
        path.write_text(json.dumps({"case": st.id, "statement": st.sql, "plan": plan}, indent=1, default=str))
        written[st.function] = str(path)
    return written


def _measure_statement(conn: psycopg.Connection, st: Any, sampler: Any, workload: Any) -> dict[str, Any]:
    cur = conn.cursor()
    meta: dict[str, Any] = {"function": st.function, "statement": st.sql, **st.meta}
    if st.locks:
        # FOR UPDATE SKIP LOCKED: the timed call runs inside a transaction opened and rolled back untimed.
        def op() -> Any:
            cur.execute(st.sql, st.params)
            return cur.fetchall()

        result = sampler.run(
            st.id,
            lambda _: op(),
            setup=lambda: conn.execute("BEGIN"),
            check=lambda _: conn.execute("ROLLBACK"),
        )
        return case_from(result, meta)
    if st.transition:
        state = {"current": st.params[1]}
        returned: list[bool] = []

        def setup() -> tuple[Any, ...]:
            return workload.transition_params(st.params[0], state["current"], PROCESSOR_UUID)

        def call(params: tuple[Any, ...]) -> bool:
            cur.execute(st.sql, params)
            return cur.fetchone()[0]

        def check(ok: bool) -> None:
            returned.append(ok)
            if ok is not True:
                raise BenchError(
                    f"{st.id}: transition_task_state_atomic({st.params[0]}, {state['current']!r} -> "
                    f"{workload.other_transition_state(state['current'])!r}) returned {ok!r}, expected true: "
                    "the compare-and-swap missed (did another process change this task's state?)"
                )
            state["current"] = workload.other_transition_state(state["current"])

        result = sampler.run(st.id, call, setup=setup, check=check)
        if state["current"] != st.params[1]:  # leave the task as found, untimed
            cur.execute(st.sql, setup())
            if cur.fetchone()[0] is not True:
                raise BenchError(f"{st.id}: could not restore task {st.params[0]} to {st.params[1]!r}")
            state["current"] = st.params[1]
        meta.update({"all_true": all(returned), "calls_checked": len(returned)})
        return case_from(result, meta)

    def plain() -> Any:
        cur.execute(st.sql, st.params)
        return cur.fetchall()

    return case_from(sampler.run(st.id, plain), meta)


def run_sql(config: Any, stack: Any, extra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every SQL case of the workload plus the two calibration cases; see the module docstring."""
    extra = {} if extra is None else extra
    workload = workload_of(stack)
    sampler = sampler_for(config, "sql")
    stats = StatStatements(stack.admin_dsn or stack.dsn)
    cases: list[dict[str, Any]] = []
    try:
        with psycopg.connect(stack.dsn, autocommit=True) as conn:
            statements = workload.sql_statements(conn)
            extra["explain"] = _explain(conn, statements, Path(config.run_dir) / "explain", workload)
            with maybe_profile(config, self_pid(), "sql-", extra):
                for st in statements:
                    before = stats.snapshot(st.sql)
                    case = _measure_statement(conn, st, sampler, workload)
                    case["meta"].update(stats.delta(before, st.sql))
                    cases.append(case)
                cur = conn.cursor()

                def select_1() -> Any:
                    cur.execute("SELECT 1")
                    return cur.fetchall()

                cases.append(case_from(sampler.run("sql/calibrate/select_1", select_1), {"statement": "SELECT 1"}))
                target = next(st for st in statements if st.id == CALIBRATED_CASE)

                def bare() -> Any:
                    cur.execute(target.sql, target.params)
                    return cur.fetchall()

                n = len(next(c for c in cases if c["id"] == CALIBRATED_CASE)["samples"])
                cases.append(
                    make_case(
                        BARE_CASE,
                        bare_loop(bare, n, sampler.warmup),
                        {"statement": target.sql, "calibrates": CALIBRATED_CASE, "harness": "none (plain loop)"},
                    )
                )
    finally:
        stats.close()
    ratio = overhead_ratio(cases, CALIBRATED_CASE, BARE_CASE)
    for case in cases:
        if case["id"] in (CALIBRATED_CASE, BARE_CASE):
            case["meta"]["overhead_ratio"] = ratio["ratio"]
    select_1 = next(c for c in cases if c["id"] == "sql/calibrate/select_1")
    extra["calibration"] = {**ratio, "select_1_p50_ns": select_1["summary"]["p50"]}
    return cases
