"""LISTEN/NOTIFY propagation: publish -> receipt on a listener connection that stays open.

Publisher and listener are two connections driven from one thread, so both ends of a sample are read from
one clock with no thread hand-off: the sample starts before the publish and ends when the listener has the
notification whose payload carries this sample's sequence number (a late or foreign notification never
matches). `event/calibrate/bare_notify` is the same small publish/receive written as a plain loop, interleaved
chunk by chunk with `event/calibrate/harness_notify` (through the Sampler); their p50 ratio is the harness's
overhead (`extra.calibration`).
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import psycopg

from baseline.benches.common import (
    BenchError,
    calibration,
    calibration_rounds,
    case_from,
    interleaved,
    make_case,
    pin_backend,
    sampler_for,
)
from baseline.benches.context import RunContext
from baseline.measure import Sampler

PAYLOADS = {"small": 0, "1KB": 1024, "7KB": 7 * 1024}
CHANNEL_PREFIX = "baseline_bench_"
EVENTS_TABLE = "baseline_bench_events"
RECEIVE_TIMEOUT_S = 5.0
CALIBRATED_CASE = "event/notify/payload=small"
HARNESS_CASE = "event/calibrate/harness_notify"
BARE_CASE = "event/calibrate/bare_notify"


def make_payload(seq: int, size: int) -> str:
    """`<seq>:` padded to `size` bytes (the sequence number alone for the small payload)."""
    head = f"{seq}:"
    return head + "x" * max(0, size - len(head))


def payload_seq(payload: str) -> int:
    return int(payload.split(":", 1)[0])


class Listener:
    """One LISTENing connection; `wait_for(channel, seq)` returns once that exact notification arrived."""

    def __init__(self, dsn: str, channels: list[str]) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True)
        for channel in channels:
            self.conn.execute(f"LISTEN {channel}")

    def wait_for(self, channel: str, seq: int) -> None:
        for note in self.conn.notifies(timeout=RECEIVE_TIMEOUT_S):
            if note.channel == channel and payload_seq(note.payload) == seq:
                return
        raise BenchError(f"no notification {seq} on channel {channel} within {RECEIVE_TIMEOUT_S:.0f} s")

    def close(self) -> None:
        self.conn.close()


def run_event(ctx: RunContext, extra: dict[str, Any]) -> list[dict[str, Any]]:
    """NOTIFY at three payload sizes, insert + NOTIFY in one transaction, and the bare calibration loop."""
    sampler = sampler_for(ctx, "event")
    stack = ctx.stack
    ctx.progress.expect_cases(len(PAYLOADS) + 3)
    channels = {name: f"{CHANNEL_PREFIX}{name.lower()}" for name in PAYLOADS}
    tx_channel = f"{CHANNEL_PREFIX}insert_notify"
    bare_channel = f"{CHANNEL_PREFIX}bare"
    seq = itertools.count(1)
    cases: list[dict[str, Any]] = []
    listener = Listener(stack.dsn, [*channels.values(), tx_channel, bare_channel])
    pin_backend(ctx, extra, "listener", listener.conn)
    try:
        with psycopg.connect(stack.dsn, autocommit=True) as pub:
            pin_backend(ctx, extra, "publisher", pub)
            pub.execute(f"CREATE TABLE IF NOT EXISTS {EVENTS_TABLE} (id bigserial PRIMARY KEY, payload text NOT NULL)")
            cur = pub.cursor()
            for name, size in PAYLOADS.items():
                channel = channels[name]

                def notify(n: int, channel: str = channel, size: int = size) -> None:
                    cur.execute("SELECT pg_notify(%s, %s)", (channel, make_payload(n, size)))
                    listener.wait_for(channel, n)

                result = sampler.run(f"event/notify/payload={name}", notify, setup=lambda: next(seq))
                cases.append(case_from(result, {"channel": channel, "payload_bytes": max(size, 1)}))

            def insert_notify(n: int) -> None:
                cur.execute(
                    f"WITH ins AS (INSERT INTO {EVENTS_TABLE} (payload) VALUES (%s) RETURNING id) "
                    "SELECT pg_notify(%s, %s) FROM ins",
                    (str(n), tx_channel, make_payload(n, 0)),
                )
                listener.wait_for(tx_channel, n)

            result = sampler.run("event/insert_notify/payload=small", insert_notify, setup=lambda: next(seq))
            cases.append(
                case_from(result, {"channel": tx_channel, "statement": "INSERT ... RETURNING + pg_notify, one txn"})
            )

            cases.extend(_calibrate(cur, listener, bare_channel, seq, sampler))
            pub.execute(f"DROP TABLE IF EXISTS {EVENTS_TABLE}")
    finally:
        listener.close()
    extra["calibration"] = calibration(cases, HARNESS_CASE, BARE_CASE, CALIBRATED_CASE)
    return cases


def _calibrate(
    cur: psycopg.Cursor[Any], listener: Listener, channel: str, seq: Any, sampler: Sampler
) -> list[dict[str, Any]]:
    """Small-payload publish -> receive through the Sampler and as a bare loop, interleaved chunk by chunk."""

    def harnessed(k: int) -> list[int]:
        def notify(n: int) -> None:
            cur.execute("SELECT pg_notify(%s, %s)", (channel, make_payload(n, 0)))
            listener.wait_for(channel, n)

        chunk = Sampler(samples=k, warmup=0, time_budget_s=sampler.time_budget_s)
        return chunk.run(HARNESS_CASE, notify, setup=lambda: next(seq)).samples

    def bare(k: int) -> list[int]:
        return _bare_notify(cur, listener.conn, channel, seq, k, 0)

    rounds = calibration_rounds(sampler.samples)
    sampler.progress.case_started([HARNESS_CASE, BARE_CASE], sampler.samples, sampler.time_budget_s)
    harness_samples, bare_samples = interleaved(harnessed, bare, sampler.samples, rounds)
    sampler.progress.case_finished(len(harness_samples) + len(bare_samples), 0.0)
    meta = {"channel": channel, "calibrates": CALIBRATED_CASE, "interleaved_rounds": rounds}
    return [
        make_case(HARNESS_CASE, harness_samples, {**meta, "harness": "Sampler"}),
        make_case(BARE_CASE, bare_samples, {**meta, "harness": "none (plain loop)"}),
    ]


def _bare_notify(
    cur: psycopg.Cursor[Any], listen: psycopg.Connection[Any], channel: str, seq: Any, n: int, warmup: int
) -> list[int]:
    """The floor: publish and block on the listener in a plain loop, no Sampler and no helper calls."""
    samples: list[int] = []
    for i in range(warmup + n):
        k = next(seq)
        t0 = time.perf_counter_ns()
        cur.execute("SELECT pg_notify(%s, %s)", (channel, f"{k}:"))
        for note in listen.notifies(timeout=RECEIVE_TIMEOUT_S):
            if note.channel == channel and int(note.payload.split(":", 1)[0]) == k:
                break
        else:
            raise BenchError(f"bare_notify: notification {k} did not arrive within {RECEIVE_TIMEOUT_S:.0f} s")
        t1 = time.perf_counter_ns()
        if i >= warmup:
            samples.append(t1 - t0)
    return samples
