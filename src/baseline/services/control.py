"""The one dispatch over providers: reuse a recorded stack, start one for a command or a pipeline, `up`, `down`.

A stack started by `up` or by a pipeline is recorded in the state file, and later commands reuse it while it is
healthy; a command with nothing up starts its own and stops it on exit, on exceptions and on SIGINT/SIGTERM. The
work-dir lock lets one process at a time start, own or stop the services of a work dir.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

from baseline import pidlock, placement, store
from baseline.config import Config
from baseline.console import say
from baseline.procfs import pid_alive, process_start_time
from baseline.services.compose import ComposeProvider
from baseline.services.embedded import EmbeddedProvider
from baseline.services.external import ExternalProvider
from baseline.services.model import Provider, Running, Stack, StackError
from baseline.services.processes import install_signal_handlers
from baseline.services.state import read_state, remove_state, stack_health, write_state
from baseline.targets.contract import Target

PROVIDERS: dict[str, Provider] = {p.kind: p for p in (EmbeddedProvider(), ExternalProvider(), ComposeProvider())}


def provider_for(kind: str) -> Provider:
    return PROVIDERS[kind]


# ---------------------------------------------------------------------------------------------- workdir lock

_workdir_locks: dict[str, int] = {}  # lock path -> depth held by this process (re-entrant)


@contextlib.contextmanager
def workdir_lock(config: Config) -> Iterator[None]:
    """One process at a time starts, owns or stops the services of a work dir; others fail with who holds it."""
    config.workdir.mkdir(parents=True, exist_ok=True)
    path = config.workdir / ".stack.lock"
    key = str(path)
    if key in _workdir_locks:
        _workdir_locks[key] += 1
        try:
            yield
        finally:
            _workdir_locks[key] -= 1
        return
    fd = pidlock.acquire(path)
    if fd is None:
        raise StackError(
            f"the services in {config.workdir} are being started, used or stopped by another harness process "
            f"(pid {pidlock.holder(path) or 'unknown'}); wait for it, or run `nox -s up` first so several commands "
            f"can share one stack"
        )
    _workdir_locks[key] = 1
    try:
        yield
    finally:
        del _workdir_locks[key]
        pidlock.release(fd)


# ---------------------------------------------------------------------------------------------- reuse and start


def _warn_if_mismatched(config: Config, stack: Stack) -> None:
    wanted = (config.target, config.dataset_scale, config.dataset_seed)
    have = (stack.target, stack.dataset_scale, stack.dataset_seed)
    if stack.services == "embedded" and wanted != have:
        say(
            f"reusing the running stack (target/scale/seed {have}) although this command asks for {wanted}; "
            "run `nox -s down` first to get a matching one"
        )
    if stack.net_delay_ms != config.net_delay_ms:
        say(
            f"reusing the running stack (network delay {stack.net_delay_ms:g} ms) although this command asks for "
            f"{config.net_delay_ms:g} ms; run `nox -s down` first to get a matching one"
        )


def refuse_if_owned_elsewhere(config: Config, stack: Stack) -> None:
    """A stack that a running pipeline owns is measured by that pipeline alone: a command the pipeline did not
    start would load its services while it measures, so it is refused before it does anything."""
    owner = stack.owner_pid
    if owner is None or owner == os.getpid() or owner in store.pipelines_started_by():
        return
    if not pid_alive(owner, stack.owner_start_time):
        return
    raise StackError(
        f"the services in {config.workdir} belong to a running pipeline (pid {owner}, label {stack.label}, "
        f"run {stack.run}) that is measuring on them; a command run beside it would load them and skew its "
        f"figures. Wait for it to finish, or give this command a work dir of its own (BASELINE_WORKDIR=DIR)"
    )


def reusable(config: Config) -> Stack | None:
    """The recorded stack when it is healthy (an external one is never reused: its DSN lives in the config);
    refused when a running pipeline owns it."""
    recorded = read_state(config)
    if recorded is None or recorded.services == "external":
        return None
    refuse_if_owned_elsewhere(config, recorded)
    if not stack_health(recorded)["healthy"]:
        return None
    _warn_if_mismatched(config, recorded)
    return recorded


def _start_fresh(config: Config, target: Target) -> Running:
    """Stop what the state file lists (or a leftover cluster), then start a fresh stack on the preferred port,
    its processes pinned as the placement policy says."""
    previous = read_state(config)
    if previous is not None:
        say("replacing the recorded stack with a fresh one")
    _down(config)
    running = provider_for(config.services).start(config, target, port=previous.port if previous else None)
    chosen = placement.for_policy(config.placement)
    running.stack.placement = {**chosen.public(), **placement.pin_service(running.stack.pids, chosen)}
    return running


@contextlib.contextmanager
def ensure_stack(config: Config, target: Target) -> Iterator[Stack]:
    """A healthy stack: the recorded one if live (left running), else one started here and stopped on exit."""
    install_signal_handlers()
    recorded = reusable(config)
    if recorded is not None:
        yield recorded
        return
    if config.services == "external":
        yield provider_for("external").start(config, target).stack
        return
    with workdir_lock(config):
        running = _start_fresh(config, target)
        running.stack.owner_pid = os.getpid()
        try:
            yield running.stack
            running.check_alive()
        finally:
            running.stop()


@contextlib.contextmanager
def owned_stack(config: Config, target: Target) -> Iterator[Stack]:
    """A fresh stack owned by this process (a pipeline) for the whole block, recorded in the state file so the
    phase processes it starts reuse it; stopped and unrecorded when the block ends, however it ends."""
    install_signal_handlers()
    with workdir_lock(config):
        running = _start_fresh(config, target)
        running.stack.owner_pid = os.getpid()
        running.stack.owner_start_time = process_start_time(os.getpid())
        try:
            write_state(config, running.stack)
            yield running.stack
            running.check_alive()
        finally:
            try:
                running.stop()
            finally:
                remove_state(config)


def up(config: Config, target: Target) -> Stack:
    """Start a fresh stack (replacing any recorded one), record it in the state file and leave it running."""
    with workdir_lock(config):
        running = _start_fresh(config, target)
        try:
            write_state(config, running.stack)
        except BaseException:
            running.stop()
            raise
        running.detach()
        return running.stack


def down(config: Config) -> bool:
    """Stop what the state file lists (processes, then the cluster) and remove it; safe to call twice.
    Returns whether anything was running."""
    with workdir_lock(config):
        return _down(config)


def _down(config: Config) -> bool:
    """The recorded stack's provider stops it; every provider then removes what an earlier crash left in the work
    dir without a record (a cluster still running, a compose project folder)."""
    stack = read_state(config)
    stopped = provider_for(stack.services).stop_recorded(config, stack) if stack is not None else False
    for kind, provider in PROVIDERS.items():
        if stack is None or kind != stack.services:
            stopped = provider.stop_recorded(config, None) or stopped
    remove_state(config)
    return bool(stopped)


# ---------------------------------------------------------------------------------------------- per-phase records


@contextlib.contextmanager
def watch_phase(stack: Stack, extra: dict[str, Any]) -> Iterator[None]:
    """Around a phase of a compose stack: each container's state, and its CPU and memory during the phase, into
    `extra["containers"]`. Nothing for other stacks."""
    if stack.services != "compose" or not stack.project:
        yield
        return
    from baseline.services import containers, docker_host

    docker = docker_host.client()
    try:
        before = containers.snapshot(docker, stack.project)
        yield
        extra["containers"] = containers.phase_report(before, containers.snapshot(docker, stack.project))
    finally:
        docker.close()


def describe_services(config: Config, stack: Stack) -> dict[str, Any] | None:
    """What the environment fingerprint records about how the services run: for a compose stack the compose
    tool's version, the engine, every container's image id and limits; None for other stacks."""
    if stack.services != "compose":
        return None
    from baseline.services.compose import describe

    return describe(config, stack)


def check_profilable(stack: Stack, pids: Mapping[str, int]) -> None:
    """ProfilingRefused when `pids` include the stack's own processes and a profiler on this host cannot attach to
    them (Docker Desktop, rootless Docker, a remote engine), with what to do instead."""
    if stack.services != "compose" or not set(pids.values()) & set(stack.service_pids().values()):
        return
    from baseline.services.compose import refusal
    from baseline.services.docker_host import ProfilingRefused

    reason = refusal(stack)
    if reason:
        raise ProfilingRefused(
            f"py-spy cannot attach to the compose services from this host: {reason}. Profile with --services "
            "embedded, or run the harness on the Docker host itself, or leave profiling off (--no-profile)."
        )
