"""CPU placement: which CPUs the harness, the backends of its own connections and the system under test run on.

On a small VM a round trip between two processes costs several times more when they sit on different vCPUs than
on one, and the scheduler picks per run, even per case (docs/findings/placement.md): a measurement that leaves
placement to it measures the scheduler. A policy fixes it. Once a stack is up, the database server and every
process of the system under test are pinned (every thread; what they fork later inherits it); each bench pins
itself and the backend of each connection it times. Policies:
- `split` (default): the harness and its backends on the first CPU, the system under test on the others (on a
  one-CPU machine, both on it): each side's hops stay on one CPU; only client <-> service hops cross.
- `harness`: only the harness and its backends pinned (first CPU); the system under test left to the scheduler.
- `together`: everything on the first CPU.
- `none`: nothing pinned.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Any

from baseline import procfs

POLICIES = ("split", "harness", "together", "none")


@dataclass(frozen=True)
class Placement:
    """Where each side runs: None leaves that side to the scheduler."""

    policy: str
    harness: frozenset[int] | None
    service: frozenset[int] | None

    def public(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "harness_cpus": sorted(self.harness) if self.harness is not None else None,
            "service_cpus": sorted(self.service) if self.service is not None else None,
        }


def plan(policy: str, cpus: Sequence[int]) -> Placement:
    """The CPU sets of a policy on these CPUs (the ones this process may use, in order)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown placement policy {policy!r}; expected one of {', '.join(POLICIES)}")
    if not cpus:
        raise ValueError("no CPU to place anything on")
    first = frozenset(cpus[:1])
    rest = frozenset(cpus[1:]) or first
    if policy == "split":
        return Placement(policy, first, rest)
    if policy == "harness":
        return Placement(policy, first, None)
    if policy == "together":
        return Placement(policy, first, first)
    return Placement(policy, None, None)


def for_policy(policy: str) -> Placement:
    """The policy's plan on the CPUs this process may run on."""
    return plan(policy, sorted(os.sched_getaffinity(0)))


# ---------------------------------------------------------------------------------------------- pinning (I/O)


def _pin_task(tid: int, cpus: Iterable[int]) -> bool:
    try:
        os.sched_setaffinity(tid, set(cpus))
    except OSError:  # gone, or not ours to pin
        return False
    return True


def pin_process_tree(pid: int, cpus: frozenset[int]) -> int:
    """Every thread of `pid` and of its descendants; returns how many threads were pinned."""
    pinned = 0
    pending, seen = [pid], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        pinned += sum(_pin_task(tid, cpus) for tid in procfs.thread_ids(current))
        pending.extend(procfs.child_pids(current))
    return pinned


def pin_service(pids: Mapping[str, int], placement: Placement) -> dict[str, Any]:
    """Pin the system under test (the database server's process tree and each role's) to the service CPUs."""
    if placement.service is None:
        return {"service": "left to the scheduler"}
    threads = {role: pin_process_tree(pid, placement.service) for role, pid in pids.items() if pid > 0}
    return {"service_threads": threads}


def pin_self(placement: Placement) -> bool:
    """This process (every thread) on the harness CPUs; children it starts later (py-spy, pytest) inherit them."""
    if placement.harness is None:
        return False
    return pin_process_tree(os.getpid(), placement.harness) > 0


def is_local_host(host: str | None) -> bool:
    """A connection whose backend runs on this machine: a Unix socket, or a loopback address."""
    if not host or host.startswith("/") or host == "localhost":
        return True
    with contextlib.suppress(ValueError):
        return ip_address(host).is_loopback
    return False


def pin_backend(conn: Any, placement: Placement) -> str:
    """The backend serving `conn` (a psycopg connection) with its client, when it runs here; says what it did."""
    if placement.harness is None:
        return "left to the scheduler"
    if not is_local_host(conn.info.host):
        return f"not local ({conn.info.host})"
    return "pinned" if _pin_task(conn.info.backend_pid, placement.harness) else "could not be pinned"
