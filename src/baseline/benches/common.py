"""What every bench shares: case dicts, the window counters that flag a disturbed run, and the bench runner.

A bench is `run_<phase>(ctx, extra) -> list[case dict]`; `run_bench` wraps it with the stack, the
checkpoint/autovacuum counters taken right before and after the measuring window (or the bench's own
`extra["window"]` when it measures in a database of its own), the statistics and the result file, so the
four benches differ only in what they time.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import psycopg

from baseline import placement
from baseline.benches.context import RunContext
from baseline.config import Config
from baseline.errors import Failure, one_line
from baseline.measure import Sampler, SampleResult
from baseline.phases import Phase
from baseline.procfs import cpu_ticks
from baseline.progress import Progress

BenchFn = Callable[[RunContext, dict[str, Any]], list[dict[str, Any]]]


class BenchError(Failure):
    """A bench could not produce trustworthy samples (a failed task, a CAS that returned false...)."""


def sampler_for(ctx: RunContext, phase: str) -> Sampler:
    config = ctx.config
    return Sampler(
        samples=int(config.samples[phase]),
        warmup=int(config.warmup),
        time_budget_s=config.time_budget_s,
        progress=ctx.progress,
    )


def make_case(case_id: str, samples: list[int], meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """A result-file case: raw ns samples, their summary, and whatever explains them."""
    from baseline.stats import summarize

    if not samples:
        raise BenchError(f"{case_id}: no samples were recorded")
    return {"id": case_id, "unit": "ns", "samples": samples, "summary": summarize(samples), "meta": dict(meta or {})}


def case_from(result: SampleResult, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    return make_case(result.case_id, result.samples, {**result.meta(), **(meta or {})})


def calibration_rounds(n: int, chunk: int = 10) -> int:
    """Chunks of about ten samples: fine enough to share load swings, coarse enough to keep loops tight."""
    return max(1, n // chunk)


def interleaved(
    harness_chunk: Callable[[int], list[int]], bare_chunk: Callable[[int], list[int]], n: int, rounds: int = 5
) -> tuple[list[int], list[int]]:
    """Alternate harnessed and bare chunks so drifting machine load hits both sides of the ratio alike."""
    harness: list[int] = []
    bare: list[int] = []
    for i in range(rounds):
        k = n // rounds + (1 if i < n % rounds else 0)
        if k:
            harness.extend(harness_chunk(k))
            bare.extend(bare_chunk(k))
    return harness, bare


def overhead_ratio(cases: list[dict[str, Any]], harness_id: str, bare_id: str) -> dict[str, Any]:
    """p50 of the harnessed case over p50 of its bare twin from the same run (1.0 = no harness overhead)."""
    by_id = {c["id"]: c for c in cases}
    harnessed, bare = by_id[harness_id]["summary"]["p50"], by_id[bare_id]["summary"]["p50"]
    return {
        "harness_case": harness_id,
        "bare_case": bare_id,
        "harness_p50_ns": harnessed,
        "bare_p50_ns": bare,
        "ratio": round(harnessed / bare, 4) if bare else None,
    }


def calibration(cases: list[dict[str, Any]], harness_id: str, bare_id: str, calibrated_id: str) -> dict[str, Any]:
    """The harness's overhead (harness case over its bare twin), stamped on both cases' meta, plus how the benched
    case it calibrates compares with the bare loop: the bench's `extra.calibration`."""
    ratio = overhead_ratio(cases, harness_id, bare_id)
    for case in cases:
        if case["id"] in (harness_id, bare_id):
            case["meta"]["overhead_ratio"] = ratio["ratio"]
    return {**ratio, "case_vs_bare_ratio": overhead_ratio(cases, calibrated_id, bare_id)["ratio"]}


# ------------------------------------------------------------------------------------------ window counters

CHECKPOINTS_SQL = {
    # PostgreSQL 17 moved the counters to pg_stat_checkpointer.
    "bgwriter": "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter",
    "checkpointer": "SELECT num_timed + num_requested FROM pg_stat_checkpointer",
}
AUTOVACUUM_SQL = "SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0) FROM pg_stat_all_tables"


def read_counters(dsn: str) -> dict[str, int]:
    """Checkpoints (cluster-wide) and autovacuum/autoanalyze runs (this database) so far, and the machine's CPU
    time and steal time (what the hypervisor gave to other guests) in clock ticks."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        try:
            row = conn.execute(CHECKPOINTS_SQL["bgwriter"]).fetchone()
        except psycopg.errors.UndefinedColumn:
            row = conn.execute(CHECKPOINTS_SQL["checkpointer"]).fetchone()
        auto = conn.execute(AUTOVACUUM_SQL).fetchone()
    counters = {"checkpoints": int(row[0]) if row else 0, "autovacuum": int(auto[0]) if auto else 0}
    return counters | cpu_ticks()


#: Share of the machine's CPU time taken by the hypervisor for other guests above which a window is flagged.
STEAL_FLAG_SHARE = 0.05


def steal_share(before: dict[str, int], after: dict[str, int]) -> float | None:
    """Steal ticks over all ticks between two counter reads; None when the machine does not report them."""
    total = after.get("cpu_ticks", 0) - before.get("cpu_ticks", 0)
    if "steal_ticks" not in before or "steal_ticks" not in after or total <= 0:
        return None
    return (after["steal_ticks"] - before["steal_ticks"]) / total


def window_flags(before: dict[str, int], after: dict[str, int]) -> list[str]:
    """Flags for anything that ran inside the measuring window and may have moved the latencies."""
    flags = []
    if after["checkpoints"] > before["checkpoints"]:
        flags.append("checkpoint_in_window")
    if after["autovacuum"] > before["autovacuum"]:
        flags.append("autovacuum_in_window")
    steal = steal_share(before, after)
    if steal is not None and steal > STEAL_FLAG_SHARE:
        flags.append("cpu_steal_in_window")
    return flags


# ------------------------------------------------------------------------------------------- engine settle

SETTLE_TIMEOUT_S = 180.0
SETTLE_INTERVAL_S = 0.1  # two quiet polls in a row: an idle engine costs a phase 0.1 s, not 0.5


def settle_engine(ctx: RunContext, extra: dict[str, Any], timeout_s: float = SETTLE_TIMEOUT_S) -> None:
    """Wait until the engine has worked off the dataset's ready tasks, so they do not share the window.

    A fresh run database holds ready tasks that the engine starts on within seconds; measuring while it does would
    time the benches against a draining backlog. Idle = no backlog on two polls in a row. A backlog still there at
    the timeout flags the result `engine_busy_in_window` instead of failing it.
    """
    started = time.monotonic()
    quiet = 0
    backlog = -1
    with psycopg.connect(ctx.stack.dsn, autocommit=True) as conn:
        while time.monotonic() - started < timeout_s:
            backlog = ctx.workload.engine_backlog(conn)
            quiet = quiet + 1 if backlog == 0 else 0
            if quiet >= 2:
                break
            time.sleep(SETTLE_INTERVAL_S)
    settled = quiet >= 2
    extra["settle"] = {"waited_s": round(time.monotonic() - started, 2), "settled": settled, "backlog": backlog}
    if not settled:
        extra.setdefault("extra_flags", []).append("engine_busy_in_window")


# ---------------------------------------------------------------------------------------------- profiling


@contextlib.contextmanager
def maybe_profile(ctx: RunContext, pids: Mapping[str, int], prefix: str, extra: dict[str, Any]) -> Iterator[None]:
    """py-spy over exactly the measuring window when --profile is on; py-spy is imported only then."""
    with maybe_profile_windows(ctx, pids, prefix, extra) as window, window():
        yield


@contextlib.contextmanager
def maybe_profile_windows(
    ctx: RunContext, pids: Mapping[str, int], prefix: str, extra: dict[str, Any]
) -> Iterator[Callable[[], contextlib.AbstractContextManager[Any]]]:
    """Yields `window`: each `with window():` is profiled, the profiles of all of them merged per role.
    Without --profile every window is a no-op and py-spy is never imported."""
    if not ctx.config.profile:
        yield contextlib.nullcontext
        return
    from baseline.profiling.capture import profile_windows
    from baseline.services.control import check_profilable

    check_profilable(ctx.stack, pids)  # compose on Docker Desktop or rootless Docker: a refusal saying why

    with profile_windows(
        pids,
        ctx.run_dir / "profiles",
        rate=ctx.config.profile_rate,
        prefix=prefix,
        modules=tuple(ctx.workload.lifecycle_modules),
    ) as windows:
        yield windows.window
    extra.setdefault("profiles", []).append(_jsonable(windows.result))


def _jsonable(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        value = asdict(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def self_pid() -> dict[str, int]:
    return {"bench": os.getpid()}


def pin_backend(ctx: RunContext, extra: dict[str, Any], name: str, conn: psycopg.Connection[Any]) -> None:
    """Place the backend of a connection the bench times with the bench itself, and say so in the result."""
    extra.setdefault("placement", {}).setdefault("backends", {})[name] = ctx.pin(conn)


# ------------------------------------------------------------------------------------------------- runner


def bench_function(phase: Phase) -> BenchFn:
    assert phase.bench is not None, f"{phase.name} is not a bench"
    module_name, _, function = phase.bench.partition(":")
    bench: BenchFn = getattr(importlib.import_module(module_name), function)
    return bench


def _lost_server(exc: psycopg.OperationalError) -> bool:
    """The connection broke (no SQLSTATE, or class 08), or the server shut down, crashed, is restarting or dropped
    the database (57P01-57P04): not a statement's own error, such as a timeout (57014) or a lock not granted."""
    state = exc.sqlstate
    return state is None or state.startswith(("08", "57P"))


def run_bench(config: Config, phase: Phase, *, reporter: Progress | None = None) -> tuple[Path, list[dict[str, Any]]]:
    """Enter the stack, let the engine settle, run one bench between counter reads, write the result.

    Progress goes to `reporter` (default: this process's, see progress.for_this_process). Returns the result file
    and its cases."""
    from baseline import environment, progress, store
    from baseline.provenance import provenance
    from baseline.services.control import describe_services, ensure_stack, watch_phase
    from baseline.targets import target_for

    bench = bench_function(phase)
    target = target_for(config)
    store.check_writable(config.run_dir)
    started = store.now_iso()
    extra: dict[str, Any] = {}
    reporter = progress.for_this_process() if reporter is None else reporter
    try:
        with ensure_stack(config, target) as stack:
            ctx = RunContext(config, stack, target, reporter)
            extra["placement"] = {**ctx.placement.public(), "bench_pinned": placement.pin_self(ctx.placement)}
            environment_info = environment.fingerprint(stack.dsn, config, describe_services(config, stack), stack=stack)
            settle_engine(ctx, extra)
            with watch_phase(stack, extra):  # compose: each container's health, CPU and memory over the phase
                before = read_counters(stack.dsn)
                cases = bench(ctx, extra)
                after = read_counters(stack.dsn)
    except psycopg.OperationalError as exc:
        if not _lost_server(exc):
            raise
        reason = one_line(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise Failure(
            f"the {phase.name} bench lost PostgreSQL ({reason}); nothing of this bench was written. Check that the "
            f"server is running (an embedded cluster logs to {config.workdir}/pg/postgres.log), then run it again"
        ) from None
    finally:
        reporter.close()
    # A bench that measures in a database of its own reports its own window (checkpoints are cluster-wide).
    window = extra.pop("window", None) or {"before": before, "after": after, "database": "run database"}
    extra["window_counters"] = window
    steal = steal_share(window["before"], window["after"])
    if steal is not None:
        extra["cpu_steal_share"] = round(steal, 4)
    extra["started_at"] = started
    flags = window_flags(window["before"], window["after"]) + extra.pop("extra_flags", [])
    path = store.write_result(
        config,
        phase.name,
        cases,
        environment=environment_info,
        flags=flags,
        extra=extra,
        started_at=started,
        provenance=provenance(target),
    )
    return path, cases
