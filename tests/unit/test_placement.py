"""CPU placement: the policies' CPU sets, and pinning real processes (every thread, and what they fork)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from baseline import placement, procfs
from baseline.placement import Placement, plan


def test_split_puts_the_harness_on_the_first_cpu_and_the_service_on_the_rest() -> None:
    assert plan("split", [0, 1]) == Placement("split", frozenset({0}), frozenset({1}))
    assert plan("split", [2, 3, 5]) == Placement("split", frozenset({2}), frozenset({3, 5}))
    assert plan("split", [0]) == Placement("split", frozenset({0}), frozenset({0}))  # one CPU: both on it


def test_the_other_policies() -> None:
    assert plan("harness", [0, 1]) == Placement("harness", frozenset({0}), None)
    assert plan("together", [0, 1]) == Placement("together", frozenset({0}), frozenset({0}))
    assert plan("none", [0, 1]) == Placement("none", None, None)
    assert plan("split", [0, 1]).public() == {"policy": "split", "harness_cpus": [0], "service_cpus": [1]}
    with pytest.raises(ValueError, match="unknown placement policy 'fast'"):
        plan("fast", [0, 1])


@pytest.mark.parametrize(
    ("host", "local"),
    [(None, True), ("/tmp/pg", True), ("localhost", True), ("127.0.0.1", True), ("::1", True), ("10.0.0.5", False)],
)
def test_only_backends_on_this_machine_are_pinned(host: str | None, local: bool) -> None:
    assert placement.is_local_host(host) is local


def _affinity(pid: int) -> set[int]:
    return os.sched_getaffinity(pid)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="pinning to one CPU of several needs two CPUs")
def test_a_process_tree_is_pinned_thread_by_thread_children_included() -> None:
    cpu = max(os.sched_getaffinity(0))
    code = (
        "import subprocess, sys, threading, time; threading.Thread(target=time.sleep, args=(30,), daemon=True).start();"
        "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); print(c.pid, flush=True);"
        "time.sleep(30)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    child = 0
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        deadline = time.monotonic() + 5
        while len(procfs.thread_ids(parent.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        pinned = placement.pin_process_tree(parent.pid, frozenset({cpu}))
        threads = procfs.thread_ids(parent.pid) + procfs.thread_ids(child)
        assert pinned == len(threads) >= 3
        assert all(_affinity(tid) == {cpu} for tid in threads)
        assert procfs.child_pids(parent.pid) == [child]
    finally:
        if child:
            os.kill(child, 9)
        parent.kill()
        parent.wait()
