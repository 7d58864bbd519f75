"""End-to-end workflow latency: from the start of a task's creation (tasker: its POST) to the receipt of the task's
completion NOTIFY.

The listener is LISTENing on the target's completion channel before the first POST, so a fast completion is
buffered on its socket rather than missed; only the notification whose payload is this task's uuid ends a
sample. Every task is fetched and verified after the timed region: a failed task fails the bench.
"""

from __future__ import annotations

import contextlib
import itertools
import time
import uuid
from typing import Any

import psycopg

from baseline.benches.common import (
    BenchError,
    case_from,
    make_case,
    maybe_profile_windows,
    pin_backend,
    sampler_for,
)
from baseline.benches.context import RunContext
from baseline.measure import Operation, Sampler, SampleResult, exclusive
from baseline.targets.contract import TaskClient, Workload

# Unprofiled/profiled block pairs in the profiled pass, in ABBA order (block_order), the workflows taken in turn within
# a block. Many short pairs: the host's speed drifts within seconds, and closer samples share more of it (the design
# search is in docs/findings/harness.md).
PROFILED_ROUNDS = 20
PROFILED_ROUNDS_QUICK = 1  # a smoke test: one unprofiled block, then one profiled
# Untimed cycles (one task per workflow) at the start of every block: a profiled block always follows a py-spy attach
# (a gap with the services idle, and idle services come back slower), an unprofiled block only sometimes a detach,
# so without them the gap's cost would fall mostly on the profiled arm.
BLOCK_LEAD_IN_CYCLES = 2
COMPLETION_TIMEOUT_S = 30.0


def run_e2e(ctx: RunContext, extra: dict[str, Any]) -> list[dict[str, Any]]:
    config, stack, workload = ctx.config, ctx.stack, ctx.workload
    workflows = tuple(workload.e2e_workflows)
    channel = workload.completion_channel
    sampler = sampler_for(ctx, "e2e")
    default_rounds = PROFILED_ROUNDS_QUICK if config.quick else PROFILED_ROUNDS
    rounds = (config.profiled_rounds or default_rounds) if config.profile else 0
    ctx.progress.expect_cases(len(workflows) + 2 * rounds)
    run_tag = uuid.uuid4().hex[:8]
    counter = itertools.count(1)
    created: dict[str, list[str]] = {key: [] for key in workflows}
    client = workload.task_client(stack.dsn, stack.api_url)
    with contextlib.closing(client), psycopg.connect(stack.dsn, autocommit=True) as listen:
        listen.execute(f"LISTEN {channel}")
        pin_backend(ctx, extra, "listener", listen)

        def wait_completion(task_uuid: str, started: int) -> None:
            deadline = started / 1e9 + COMPLETION_TIMEOUT_S
            while True:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                for note in listen.notifies(timeout=remaining):
                    if note.channel == channel and note.payload == task_uuid:
                        return
            state = str(client.fetch(task_uuid))[:500]
            raise BenchError(
                f"task {task_uuid} sent no completion NOTIFY on {channel} within {COMPLETION_TIMEOUT_S:.0f} s; "
                f"its state: {state}"
            )

        def operation(prefix: str, key: str) -> Operation:
            def prepare() -> Any:
                return client.prepare(key, f"baseline-e2e-{run_tag}-{next(counter)}")

            def run_one(prepared: Any) -> str:
                started = time.perf_counter_ns()
                task_id = client.accepted(key, client.submit(prepared))
                wait_completion(task_id, started)
                return task_id

            return Operation(f"{prefix}{key}", run_one, setup=prepare, check=created[key].append)

        def case_of(result: SampleResult, key: str) -> dict[str, Any]:
            return case_from(result, {"workflow": key, "completion_channel": channel})

        def measure_block(prefix: str, block: Sampler) -> list[dict[str, Any]]:
            results = block.run_round_robin([operation(prefix, key) for key in workflows])
            return [case_of(result, key) for result, key in zip(results, workflows, strict=True)]

        # Latency cases are never taken under the profiler (py-spy costs CPU on a small machine). The profiled
        # pass alternates unprofiled and profiled blocks, so drift on a shared machine hits both alike, and states
        # the profiler's cost as the ratio of their pooled p50s.
        cases: list[dict[str, Any]] = []
        timed: list[str] = []  # task uuids of the timed (unprofiled) samples, warm-up excluded
        for key in workflows:
            op = operation("e2e/workflow/", key)
            result = sampler.run(op.case_id, op.call, setup=op.setup, check=op.check, keep_results=True)
            timed.extend(result.results)
            cases.append(case_of(result, key))
        if rounds:
            block = Sampler(
                samples=max(1, -(-int(config.samples["e2e"]) // rounds)),
                warmup=BLOCK_LEAD_IN_CYCLES,
                time_budget_s=config.time_budget_s / rounds,
                progress=ctx.progress,
            )
            blocks: dict[str, list[list[dict[str, Any]]]] = {"reference": [], "profiled": []}
            # In an A/B whose sides take turns, this side keeps the turn for the whole pass: its profilers would
            # otherwise sample (and cost CPU) while the other side measures.
            with exclusive(), maybe_profile_windows(ctx, stack.service_pids(), "e2e-", extra) as window:
                for arm in block_order(rounds):
                    if arm == "reference":
                        blocks["reference"].append(measure_block("e2e/reference/", block))
                    else:
                        with window():
                            blocks["profiled"].append(measure_block("e2e/profiled/", block))
            extra["profiled_window"] = profiling_overhead(blocks["reference"], blocks["profiled"])
        verified = _verify_all(client, created, workload)
    for case in cases:
        case["meta"]["verified_tasks"] = verified[case["meta"]["workflow"]]
    return cases + _hop_cases(stack.dsn, workload, timed)


def block_order(rounds: int) -> list[str]:
    """The profiled pass's blocks, round by round in ABBA order (reference, profiled, then profiled, reference, ...):
    a steady drift within the pass adds to both arms alike instead of always to the block that runs second."""
    pairs = (("reference", "profiled"), ("profiled", "reference"))
    return [arm for r in range(rounds) for arm in pairs[r % 2]]


def _hop_cases(dsn: str, workload: Workload, task_uuids: list[str]) -> list[dict[str, Any]]:
    """The plan's orchestration-coordination and worker-cycle latencies, per hand-off of the timed tasks.

    Taken from the target's own records after the window (nothing is added to the timed region); a target that
    keeps no such records returns none, and `audit` shows those benches as placeholders.
    """
    if not task_uuids:
        return []
    with psycopg.connect(dsn, autocommit=True) as conn:
        hops = workload.hop_latencies(conn, task_uuids)
    described = workload.hop_cases
    cases = []
    for case_id, samples in hops.items():
        # A hop cannot take zero or negative time: such a timestamp pair is misordered by the target, so it is
        # left out and counted in the case's meta, never folded into the statistics.
        valid = [s for s in samples if s > 0]
        meta = {
            "tasks": len(task_uuids),
            "hop": described.get(case_id, ""),
            "misordered": len(samples) - len(valid),
            "source": "target transition timestamps (server clock)",
        }
        if valid:
            cases.append(make_case(case_id, valid, meta))
    return cases


def _verify_all(client: TaskClient, created: dict[str, list[str]], workload: Workload) -> dict[str, int]:
    """Read every task of the window (warm-up included) and check success and exact results."""
    counts: dict[str, int] = {}
    for key, ids in created.items():
        for task_id in ids:
            workload.verify_task(client.fetch(task_id), key)
        counts[key] = len(ids)
    return counts


def profiling_overhead(reference: list[list[dict[str, Any]]], profiled: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """Per workflow: pooled p50 of the profiled blocks over that of the unprofiled blocks they alternate with
    (1.0 = no profiler cost), its 95% CI from a bootstrap over the rounds (each round's two blocks resampled together,
    see stats.paired_block_bootstrap_ratio), and each round's own ratio to show how steady it is."""
    from baseline.stats import paired_block_bootstrap_ratio, percentile

    out: dict[str, Any] = {}
    for index, first in enumerate(reference[0]):
        ref_blocks = [round_[index]["samples"] for round_ in reference]
        prof_blocks = [round_[index]["samples"] for round_ in profiled]
        ref_p50 = percentile([x for b in ref_blocks for x in b], 50)
        prof_p50 = percentile([x for b in prof_blocks for x in b], 50)
        ci = paired_block_bootstrap_ratio(ref_blocks, prof_blocks)["ci"] if ref_p50 else None
        out[first["meta"]["workflow"]] = {
            "reference_p50_ns": ref_p50,
            "profiled_p50_ns": prof_p50,
            "reference_samples": sum(map(len, ref_blocks)),
            "profiled_samples": sum(map(len, prof_blocks)),
            "rounds": len(ref_blocks),
            "overhead_ratio": round(prof_p50 / ref_p50, 4) if ref_p50 else None,
            "overhead_ci": [round(v, 4) for v in ci] if ci else None,
            "round_ratios": [
                round(percentile(p, 50) / percentile(r, 50), 4) if percentile(r, 50) else None
                for r, p in zip(ref_blocks, prof_blocks, strict=True)
            ],
        }
    return out
