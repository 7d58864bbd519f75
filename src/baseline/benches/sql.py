"""SQL function bench: client round trip per call, server time from pg_stat_statements, EXPLAIN per function.

The cases run on a private clone of the dataset template (see `quiet_database`), so the engine's processes
cannot change the rows being measured while the bench runs.

Calibration in the same run: `SELECT 1` through the Sampler, and one benched statement both through the
Sampler and in a bare psycopg loop on the same connection, interleaved in chunks of ~10 calls so machine load
hits both alike; `extra.calibration.ratio` (harness p50 / bare p50) is the harness's own overhead. And `SELECT 1`
after 15 ms idle (`sql/calibrate/select_1_after_idle`): the host's cost of waking up, `extra.calibration.wake_up_ratio`.
And a fixed server-side CPU loop (`sql/calibrate/cpu_loop`): the host's CPU speed, which moves on a shared VM while
round trips may not (a quick A/A pair four minutes apart: SQL functions 1.2-1.7x slower, SELECT 1 within noise).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
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
    read_counters,
    sampler_for,
    self_pid,
    workload_of,
)
from baseline.measure import Sampler

CALIBRATED_CASE = "sql/get_step_readiness_status/sample=1"
SELECT_1_CASE = "sql/calibrate/select_1"
IDLE_CASE = "sql/calibrate/select_1_after_idle"
IDLE_BEFORE_S = 0.015  # about one E2E task: how long an engine process sits idle between its hand-offs
IDLE_SAMPLES = 200
CPU_CASE = "sql/calibrate/cpu_loop"
CPU_LOOP_SQL = "SELECT sum(i) FROM generate_series(1, 1000) AS i"  # executor CPU only: no table, lock or I/O
HARNESS_CASE = "sql/calibrate/harness/get_step_readiness_status"
BARE_CASE = "sql/calibrate/bare_psycopg/get_step_readiness_status"
PROCESSOR_UUID = uuid.UUID("00000000-0000-4000-8000-00000000b3c4")


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

    def query_id(self, conn: psycopg.Connection, statement: str, params: tuple[Any, ...]) -> int | None:
        """The statement's pg_stat_statements queryid, from EXPLAIN VERBOSE (nothing is executed)."""
        if self.reason:
            return None
        plan = conn.execute("EXPLAIN (VERBOSE, FORMAT JSON) " + statement, params).fetchone()[0]
        found = plan[0].get("Query Identifier")
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


def _explain_params(st: Any, workload: Any) -> tuple[Any, ...]:
    if st.transition:
        return workload.transition_params(st.params[0], st.params[1], PROCESSOR_UUID)
    return st.params


def _explain(conn: psycopg.Connection, statements: list[Any], out_dir: Path, workload: Any) -> dict[str, str]:
    """EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) of each function's first case, rolled back (some write)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    for st in statements:
        if st.function in written:
            continue
        params = _explain_params(st, workload)
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


@contextlib.contextmanager
def quiet_database(stack: Any, extra: dict[str, Any]) -> Iterator[str]:
    """A private clone of the dataset template that no engine process is connected to, when the stack has one.

    The engine's orchestrator polls get_next_ready_tasks and works off the dataset's ready tasks within
    seconds of starting; a clone keeps the SQL cases on the dataset exactly as generated, run after run.
    Without a template (external or compose services) the run database itself is used, and the result says so.
    """
    template = getattr(stack, "template", None)
    admin = getattr(stack, "admin_dsn", None)
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


def run_sql(config: Any, stack: Any, extra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every SQL case of the workload plus the calibration cases; see the module docstring."""
    extra = {} if extra is None else extra
    with quiet_database(stack, extra) as dsn:
        before = read_counters(dsn)
        cases = _run_sql(config, stack, dsn, extra)
        after = read_counters(dsn)
    extra["window"] = {"before": before, "after": after, "database": extra["database"].get("name", "run database")}
    return cases


def _run_sql(config: Any, stack: Any, dsn: str, extra: dict[str, Any]) -> list[dict[str, Any]]:
    workload = workload_of(stack)
    sampler = sampler_for(config, "sql")
    stats = StatStatements(getattr(stack, "admin_dsn", None) or dsn, psycopg.conninfo.conninfo_to_dict(dsn)["dbname"])
    cases: list[dict[str, Any]] = []
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            statements = workload.sql_statements(conn)
            extra["explain"] = _explain(conn, statements, Path(config.run_dir) / "explain", workload)
            with maybe_profile(config, self_pid(), "sql-", extra):
                for st in statements:
                    query_id = stats.query_id(conn, st.sql, _explain_params(st, workload))
                    before = stats.snapshot(query_id)
                    case = _measure_statement(conn, st, sampler, workload)
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
                harness_cases = _calibrate(cur, next(st for st in statements if st.id == CALIBRATED_CASE), sampler)
            # Outside the profiled window: its untimed idle waits would show in the profile as the bench's own work.
            cases.append(_select_1_after_idle(select_1, sampler))
            cases.extend(harness_cases)
    finally:
        stats.close()
    p50 = {c["id"]: c["summary"]["p50"] for c in cases}
    extra["calibration"] = {
        **calibration(cases, HARNESS_CASE, BARE_CASE, CALIBRATED_CASE),
        "select_1_p50_ns": p50[SELECT_1_CASE],
        "select_1_after_idle_p50_ns": p50[IDLE_CASE],
        "cpu_loop_p50_ns": p50[CPU_CASE],
        "wake_up_ratio": p50[IDLE_CASE] / p50[SELECT_1_CASE],
    }
    return cases


def _select_1_after_idle(select_1: Callable[[], Any], sampler: Sampler) -> dict[str, Any]:
    """SELECT 1 after client and backend sat idle for IDLE_BEFORE_S (untimed): what waking up costs on this host.

    Every hand-off of a workflow engine wakes a process that has just waited for another. On a VM whose idle vCPUs
    halt, that costs hundreds of microseconds per wake-up (docs/engine.md, "This VM's wake-up cost"), so next to
    sql/calibrate/select_1 this case tells how much of the E2E and POST figures is the host rather than the code.
    """
    chunk = Sampler(
        samples=max(1, min(sampler.samples // 2, IDLE_SAMPLES)),  # each sample waits 15 ms: half the count will do
        warmup=min(sampler.warmup, 5),
        time_budget_s=sampler.time_budget_s,
        progress=sampler.progress,
    )
    result = chunk.run(IDLE_CASE, lambda _: select_1(), setup=lambda: time.sleep(IDLE_BEFORE_S))
    return case_from(result, {"statement": "SELECT 1", "idle_before_ms": IDLE_BEFORE_S * 1000})


def _calibrate(cur: psycopg.Cursor, target: Any, sampler: Sampler) -> list[dict[str, Any]]:
    """The calibrated statement through the Sampler and in a bare loop, interleaved chunk by chunk."""
    sql, params = target.sql, target.params

    def harnessed(k: int) -> list[int]:
        def call() -> Any:
            cur.execute(sql, params)
            return cur.fetchall()

        chunk = Sampler(samples=k, warmup=0, time_budget_s=sampler.time_budget_s, progress=False)
        return chunk.run(HARNESS_CASE, call).samples

    def bare(k: int) -> list[int]:
        samples = []
        for _ in range(k):
            t0 = perf_counter_ns()
            cur.execute(sql, params)
            cur.fetchall()
            samples.append(perf_counter_ns() - t0)
        return samples

    rounds = calibration_rounds(sampler.samples)
    harness_samples, bare_samples = interleaved(harnessed, bare, sampler.samples, rounds)
    meta = {"statement": sql, "calibrates": CALIBRATED_CASE, "interleaved_rounds": rounds}
    return [
        make_case(HARNESS_CASE, harness_samples, {**meta, "harness": "Sampler"}),
        make_case(BARE_CASE, bare_samples, {**meta, "harness": "none (plain loop)"}),
    ]
