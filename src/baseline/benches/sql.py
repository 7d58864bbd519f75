"""SQL function bench: client round trip per call, server time from pg_stat_statements, EXPLAIN per function.

The cases run on a private clone of the dataset template (see `quiet_database`), so the engine's processes
cannot change the rows being measured while the bench runs.

Calibration in the same run: `SELECT 1` through the Sampler, and one benched statement both through the
Sampler and in a bare psycopg loop on the same connection, interleaved in chunks of ~10 calls so machine load
hits both alike; `extra.calibration.ratio` (harness p50 / bare p50) is the harness's own overhead. And `SELECT 1`
after 15 ms idle (`sql/calibrate/select_1_after_idle`): the host's cost of waking up, `extra.calibration.wake_up_ratio`.
And a fixed server-side CPU loop (`sql/calibrate/cpu_loop`): the host's CPU speed, which moves on a shared VM while
round trips may not (docs/findings/harness.md).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from time import perf_counter_ns
from typing import Any

import psycopg
import psycopg.conninfo
from psycopg import sql as pgsql

from baseline.benches.common import (
    BenchError,
    calibration,
    calibration_rounds,
    case_from,
    interleaved,
    make_case,
    maybe_profile,
    pin_backend,
    read_counters,
    sampler_for,
    self_pid,
)
from baseline.benches.context import RunContext
from baseline.measure import Sampler
from baseline.services.model import Stack
from baseline.store import write_json_atomic
from baseline.targets.contract import SqlStatement

SELECT_1_CASE = "sql/calibrate/select_1"
IDLE_CASE = "sql/calibrate/select_1_after_idle"
IDLE_BEFORE_S = 0.015  # about one E2E task: how long an engine process sits idle between its hand-offs
IDLE_SAMPLES = 200
CPU_CASE = "sql/calibrate/cpu_loop"
CPU_LOOP_SQL = "SELECT sum(i) FROM generate_series(1, 1000) AS i"  # executor CPU only: no table, lock or I/O
CALIBRATION_CASES = 5  # SELECT 1, the CPU loop, SELECT 1 after idle, the harnessed and bare twins


def harness_case(function: str) -> str:
    return f"sql/calibrate/harness/{function}"


def bare_case(function: str) -> str:
    return f"sql/calibrate/bare_psycopg/{function}"


class StatStatements:
    """Per-statement call and execution-time counters, read on a side connection before and after a case."""

    def __init__(self, dsn: str, dbname: str) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.dbname = dbname
        self.reason: str | None = None
        preload = self.conn.execute("SHOW shared_preload_libraries").fetchone()
        if not preload or "pg_stat_statements" not in preload[0]:
            self.reason = "pg_stat_statements is not preloaded on this server"
            return
        try:
            self.conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        except psycopg.Error as exc:
            self.reason = f"cannot create extension pg_stat_statements: {exc}".strip()

    def query_id(self, conn: psycopg.Connection[Any], statement: str, params: tuple[Any, ...]) -> int | None:
        """The statement's pg_stat_statements queryid, from EXPLAIN VERBOSE (nothing is executed)."""
        if self.reason:
            return None
        row = conn.execute("EXPLAIN (VERBOSE, FORMAT JSON) " + statement, params).fetchone()
        found = row[0][0].get("Query Identifier") if row else None
        if found is None:
            self.reason = "the server computes no query identifier (compute_query_id is off)"
        return found

    def snapshot(self, query_id: int | None) -> tuple[int, float] | None:
        if self.reason or query_id is None:
            return None
        row = self.conn.execute(
            "SELECT coalesce(sum(calls), 0)::bigint, coalesce(sum(total_exec_time), 0)::float8 "
            "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "WHERE d.datname = %s AND s.toplevel AND s.queryid = %s",
            (self.dbname, query_id),
        ).fetchone()
        return (int(row[0]), float(row[1])) if row else (0, 0.0)

    def delta(self, before: tuple[int, float] | None, query_id: int | None) -> dict[str, Any]:
        after = self.snapshot(query_id)
        if before is None or after is None:
            return {"server_mean_exec_ns": None, "server_note": self.reason}
        calls = after[0] - before[0]
        if calls <= 0:
            return {"server_mean_exec_ns": None, "server_note": "no calls recorded by pg_stat_statements"}
        return {"server_calls": calls, "server_mean_exec_ns": round((after[1] - before[1]) * 1e6 / calls)}

    def close(self) -> None:
        self.conn.close()


def _first_params(st: SqlStatement) -> tuple[Any, ...]:
    """The parameters of the statement's first call: its cycle's first step, or its fixed parameters."""
    return st.cycle[0] if st.cycle else st.params


def _explain(conn: psycopg.Connection[Any], statements: list[SqlStatement], out_dir: Path) -> dict[str, str]:
    """EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) of each function's first case, rolled back (some write)."""
    written: dict[str, str] = {}
    for st in statements:
        if st.function in written:
            continue
        conn.execute("BEGIN")
        try:
            row = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + st.sql, _first_params(st)).fetchone()
        finally:
            conn.execute("ROLLBACK")
        plan = row[0] if row else None
        path = write_json_atomic(out_dir / f"{st.function}.json", {"case": st.id, "statement": st.sql, "plan": plan})
        written[st.function] = str(path)
    return written


def _measure_statement(conn: psycopg.Connection[Any], st: SqlStatement, sampler: Sampler) -> dict[str, Any]:
    cur = conn.cursor()
    meta: dict[str, Any] = {"function": st.function, "statement": st.sql, **st.meta}
    if st.locks:
        # FOR UPDATE SKIP LOCKED: the timed call runs inside a transaction opened and rolled back untimed.
        def op() -> Any:
            cur.execute(st.sql, st.params)
            return cur.fetchall()

        def rollback(_: Any) -> None:
            conn.execute("ROLLBACK")

        result = sampler.run(st.id, lambda _: op(), setup=lambda: conn.execute("BEGIN"), check=rollback)
        return case_from(result, meta)
    if st.cycle:
        return _measure_cycle(cur, st, sampler, meta)

    def plain() -> Any:
        cur.execute(st.sql, st.params)
        return cur.fetchall()

    return case_from(sampler.run(st.id, plain), meta)


def _measure_cycle(
    cur: psycopg.Cursor[Any], st: SqlStatement, sampler: Sampler, meta: dict[str, Any]
) -> dict[str, Any]:
    """A state toggle: the cycle's parameters in turn, each call checked to return `expect`; the cycle is completed
    untimed afterwards, so the rows end as they were found."""
    position = 0

    def setup() -> tuple[Any, ...]:
        return st.cycle[position % len(st.cycle)]

    def call(params: tuple[Any, ...]) -> Any:
        cur.execute(st.sql, params)
        row = cur.fetchone()
        return row[0] if row else None

    def check(value: Any) -> None:
        nonlocal position
        if value != st.expect:
            raise BenchError(
                f"{st.id}: {st.function}{setup()!r} returned {value!r}, expected {st.expect!r}: the call did not take "
                "its success path (did another process change its rows?)"
            )
        position += 1

    result = sampler.run(st.id, call, setup=setup, check=check)
    calls = position
    while position % len(st.cycle):  # back to where the rows were, untimed
        check(call(setup()))
    meta.update({"all_expected": True, "calls_checked": calls, "expect": st.expect})
    return case_from(result, meta)


@contextlib.contextmanager
def quiet_database(stack: Stack, extra: dict[str, Any]) -> Iterator[str]:
    """A private clone of the dataset template that no engine process is connected to, when the stack has one.

    The engine's orchestrator polls get_next_ready_tasks and works off the dataset's ready tasks within
    seconds of starting; a clone keeps the SQL cases on the dataset exactly as generated, run after run.
    Without a template (external or compose services) the run database itself is used, and the result says so.
    """
    template, admin = stack.template, stack.admin_dsn
    if not template or not admin:
        extra["database"] = {"kind": "run database", "note": "engine processes may act on the dataset meanwhile"}
        yield stack.dsn
        return
    name = f"sqlbench_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name)))
        conn.execute(
            pgsql.SQL("CREATE DATABASE {} TEMPLATE {}").format(pgsql.Identifier(name), pgsql.Identifier(template))
        )
        conn.execute("CHECKPOINT")  # the clone's WAL is flushed before, not during, the measuring window
    extra["database"] = {"kind": "private clone of the dataset template", "template": template, "name": name}
    try:
        yield str(psycopg.conninfo.make_conninfo(stack.dsn, dbname=name))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name)))


def run_sql(ctx: RunContext, extra: dict[str, Any]) -> list[dict[str, Any]]:
    """Every SQL case of the workload plus the calibration cases; see the module docstring."""
    with quiet_database(ctx.stack, extra) as dsn:
        before = read_counters(dsn)
        cases = _run_sql(ctx, dsn, extra)
        after = read_counters(dsn)
    extra["window"] = {"before": before, "after": after, "database": extra["database"].get("name", "run database")}
    return cases


def _run_sql(ctx: RunContext, dsn: str, extra: dict[str, Any]) -> list[dict[str, Any]]:
    sampler = sampler_for(ctx, "sql")
    stats = StatStatements(ctx.stack.admin_dsn or dsn, str(psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]))
    cases: list[dict[str, Any]] = []
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            pin_backend(ctx, extra, "sql", conn)
            statements = ctx.workload.sql_statements(conn)
            calibrated = _calibrated_statement(statements, ctx.workload.calibration_case)
            ctx.progress.expect_cases(len(statements) + CALIBRATION_CASES)
            extra["explain"] = _explain(conn, statements, ctx.run_dir / "explain")
            with maybe_profile(ctx, self_pid(), "sql-", extra):
                for st in statements:
                    query_id = stats.query_id(conn, st.sql, _first_params(st))
                    before = stats.snapshot(query_id)
                    case = _measure_statement(conn, st, sampler)
                    case["meta"].update(stats.delta(before, query_id))
                    cases.append(case)
                cur = conn.cursor()

                def run_statement(sql: str) -> Callable[[], Any]:
                    def call() -> Any:
                        cur.execute(sql)
                        return cur.fetchall()

                    return call

                select_1 = run_statement("SELECT 1")
                cases.append(case_from(sampler.run(SELECT_1_CASE, select_1), {"statement": "SELECT 1"}))
                cpu_loop = sampler.run(CPU_CASE, run_statement(CPU_LOOP_SQL))
                cases.append(case_from(cpu_loop, {"statement": CPU_LOOP_SQL}))
                harness_cases = _calibrate(cur, calibrated, sampler)
            # Outside the profiled window: its untimed idle waits would show in the profile as the bench's own work.
            cases.append(_select_1_after_idle(select_1, sampler))
            cases.extend(harness_cases)
    finally:
        stats.close()
    p50 = {c["id"]: c["summary"]["p50"] for c in cases}
    extra["calibration"] = {
        **calibration(cases, harness_case(calibrated.function), bare_case(calibrated.function), calibrated.id),
        "select_1_p50_ns": p50[SELECT_1_CASE],
        "select_1_after_idle_p50_ns": p50[IDLE_CASE],
        "cpu_loop_p50_ns": p50[CPU_CASE],
        "wake_up_ratio": p50[IDLE_CASE] / p50[SELECT_1_CASE],
    }
    return cases


def _calibrated_statement(statements: list[SqlStatement], case_id: str) -> SqlStatement:
    """The workload's calibration case, which must be a plain (no locks, no cycle) statement of its own."""
    for st in statements:
        if st.id == case_id:
            if st.locks or st.cycle:
                raise BenchError(f"calibration case {case_id}: must be a plain statement (no locks, no cycle)")
            return st
    raise BenchError(f"calibration case {case_id} is not among the workload's SQL statements")


def _select_1_after_idle(select_1: Callable[[], Any], sampler: Sampler) -> dict[str, Any]:
    """SELECT 1 after client and backend sat idle for IDLE_BEFORE_S (untimed): what waking up costs on this host.

    Every hand-off of a workflow engine wakes a process that has just waited for another. On a VM whose idle vCPUs
    halt, that costs hundreds of microseconds per wake-up (docs/findings/engine.md, "This VM's wake-up cost"), so
    next to sql/calibrate/select_1 this case tells how much of the E2E and POST figures is the host, not the code.
    """
    chunk = Sampler(
        samples=max(1, min(sampler.samples // 2, IDLE_SAMPLES)),  # each sample waits 15 ms: half the count will do
        warmup=min(sampler.warmup, 5),
        time_budget_s=sampler.time_budget_s,
        progress=sampler.progress,
    )
    result = chunk.run(IDLE_CASE, lambda _: select_1(), setup=lambda: time.sleep(IDLE_BEFORE_S))
    return case_from(result, {"statement": "SELECT 1", "idle_before_ms": IDLE_BEFORE_S * 1000})


def _calibrate(cur: psycopg.Cursor[Any], target: SqlStatement, sampler: Sampler) -> list[dict[str, Any]]:
    """The calibrated statement through the Sampler and in a bare loop, interleaved chunk by chunk."""
    sql, params = target.sql, target.params
    harness_id, bare_id = harness_case(target.function), bare_case(target.function)

    def harnessed(k: int) -> list[int]:
        def call() -> Any:
            cur.execute(sql, params)
            return cur.fetchall()

        chunk = Sampler(samples=k, warmup=0, time_budget_s=sampler.time_budget_s)
        return chunk.run(harness_id, call).samples

    def bare(k: int) -> list[int]:
        samples = []
        for _ in range(k):
            t0 = perf_counter_ns()
            cur.execute(sql, params)
            cur.fetchall()
            samples.append(perf_counter_ns() - t0)
        return samples

    rounds = calibration_rounds(sampler.samples)
    sampler.progress.case_started([harness_id, bare_id], sampler.samples, sampler.time_budget_s)
    harness_samples, bare_samples = interleaved(harnessed, bare, sampler.samples, rounds)
    sampler.progress.case_finished(len(harness_samples) + len(bare_samples), 0.0)
    meta = {"statement": sql, "calibrates": target.id, "interleaved_rounds": rounds}
    return [
        make_case(harness_id, harness_samples, {**meta, "harness": "Sampler"}),
        make_case(bare_id, bare_samples, {**meta, "harness": "none (plain loop)"}),
    ]
