"""Run a planned pipeline in this process: one label lock, one stack per run owned here, each phase in a fresh
`baseline <phase>` process (one interpreter per bench), every phase's status, timing and exit in the manifest.

A phase process gets the pipeline's options through BASELINE_* variables (a DSN never on a command line), writes
its output to run-N/logs/<phase>.log and its progress to a pipe this process shows on the console.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rich.console import Console

from baseline import store
from baseline.config import Config, environment_for
from baseline.errors import Failure, HarnessError, one_line
from baseline.phases import Phase
from baseline.pipeline.display import PipelineDisplay
from baseline.pipeline.plan import RunPlan, Step
from baseline.progress import PROGRESS_FD_ENV, interactive
from baseline.results import StoreError, read_json, read_result
from baseline.targets import load_target
from baseline.targets.contract import Target

LOG_TAIL_LINES = 25
UP, DOWN, BUILD = "up", "down", "build"


@dataclass
class PhaseOutcome:
    status: str  # ok | failed | skipped | interrupted
    seconds: float
    exit_code: int | None
    log: Path | None
    error: str | None = None


@dataclass
class RunOutcome:
    run: int
    status: str
    error: str | None


def schedule(plans: Sequence[RunPlan], *, build: bool) -> list[tuple[int, str]]:
    """Every step of the pipeline in order as (run, name), the stack's up and down included (for the ETA)."""
    out: list[tuple[int, str]] = [(plans[0].run, BUILD)] if build and plans else []
    for plan in plans:
        out.append((plan.run, UP))
        out.extend((plan.run, step.phase.name) for step in plan.steps)
        out.append((plan.run, DOWN))
    return out


# ---------------------------------------------------------------------------------------------- timings


def _timings_path(config: Config) -> Path:
    return config.workdir / "timings.json"


def load_timings(config: Config) -> dict[str, float]:
    """Phase durations of the last pipeline of the same size (quick or full), for a first ETA."""
    try:
        data = read_json(_timings_path(config))
    except StoreError:
        return {}
    size = data.get("quick" if config.quick else "full") if isinstance(data, dict) else None
    return {str(k): float(v) for k, v in (size or {}).items() if isinstance(v, int | float)}


def save_timings(config: Config, typical: Mapping[str, float]) -> None:
    try:
        data = read_json(_timings_path(config))
    except StoreError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    data["quick" if config.quick else "full"] = {k: round(v, 2) for k, v in typical.items()}
    store.write_json_atomic(_timings_path(config), data)


# ---------------------------------------------------------------------------------------------- phase process


def _read_progress(stream: IO[str], feed: Callable[[dict[str, Any]], None]) -> None:
    for line in stream:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict):
            feed(event)


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.rstrip().splitlines()[-lines:]) or "(the log is empty)"


def run_phase_process(
    config: Config,
    step: Step,
    *,
    env: Mapping[str, str],
    log: Path,
    feed: Callable[[dict[str, Any]], None],
    echo: bool,
) -> PhaseOutcome:
    """`baseline <phase command> [step args]` as a child process; its output to `log` (and the console with -v)."""
    argv = [sys.executable, "-m", "baseline.cli", step.argv_command, *step.args]
    log.parent.mkdir(parents=True, exist_ok=True)
    read_fd, write_fd = os.pipe()
    started = time.monotonic()
    child_env = {**os.environ, **env, PROGRESS_FD_ENV: str(write_fd)}
    with open(log, "wb") as handle:
        try:
            proc = subprocess.Popen(
                argv,
                cwd=config.project_root,
                env=child_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if echo else handle,
                stderr=subprocess.STDOUT,
                pass_fds=(write_fd,),
            )
        finally:
            os.close(write_fd)
        reader = threading.Thread(
            target=_read_progress, args=(os.fdopen(read_fd, "r", encoding="utf-8"), feed), daemon=True
        )
        reader.start()
        try:
            if echo and proc.stdout is not None:
                for chunk in iter(lambda: proc.stdout.readline(), b""):  # type: ignore[union-attr]
                    handle.write(chunk)
                    sys.stdout.write(chunk.decode(errors="replace"))
                    sys.stdout.flush()
            code = proc.wait()
        except BaseException:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise
        finally:
            reader.join(timeout=5)
    seconds = time.monotonic() - started
    if code == 0:
        return PhaseOutcome("ok", seconds, code, log)
    said = _said(log, step.argv_command)
    error = f"{step.argv_command} exited with {code}" + (f": {said}" if said else "")
    return PhaseOutcome("failed", seconds, code, log, error=error)


def _said(log: Path, command: str) -> str | None:
    """The phase process's own last word on why it stopped (`baseline <command>: error: ...`), on one line."""
    prefix = f"baseline {command}: "
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith(prefix):
            return one_line(" ".join(lines[index:])[len(prefix) :])[:500]
    return None


def result_lines(config: Config, phase: Phase) -> list[str]:
    """What a finished bench measured, a line per case group (read back from its result file)."""
    from baseline.reports.text import case_group_lines

    if not phase.is_bench:
        record = config.run_dir / "profiles" / "lifecycle.json"
        try:
            data = read_json(record)
        except StoreError:
            return []
        return [f"{data.get('samples', '?')} samples in {data.get('seconds', '?')} s -> {record.parent}"]
    try:
        result = read_result(config.run_dir / f"{phase.name}.json")
    except StoreError:
        return []
    lines = case_group_lines(result["cases"])
    if result.get("flags"):
        lines.append("flags: " + ", ".join(result["flags"]))
    return lines


# ---------------------------------------------------------------------------------------------- pipeline


class Pipeline:
    """One pipeline: its plan, config and console; `run()` returns the exit code."""

    def __init__(
        self,
        config: Config,
        plans: Sequence[RunPlan],
        *,
        cli_values: Mapping[str, Any],
        build: bool,
        verbose: bool,
        console: Console,
        finish: Callable[[Config], Any] | None = None,
    ) -> None:
        self.config, self.plans = config, list(plans)
        self.cli_values = dict(cli_values)
        self.build, self.verbose, self.console = build, verbose, console
        self.finish = finish
        self.target: Target = load_target(config.target)
        self.display = PipelineDisplay(
            console,
            title=config.label,
            schedule=schedule(self.plans, build=build),
            runs=len(self.plans),
            typical=load_timings(config),
            live=interactive() and not verbose,
        )

    def _env(self, run: int) -> dict[str, str]:
        return environment_for({**self.cli_values, "label": self.config.label, "run": run})

    def run(self) -> tuple[list[RunOutcome], Any]:
        """Every run of the plan, then `finish(config)` (the summary) under the same lock; returns the runs'
        outcomes and what `finish` returned."""
        outcomes: list[RunOutcome] = []
        with store.label_lock(self.config):
            with self.display:
                if self.build:
                    self._build()
                for plan in self.plans:
                    outcomes.append(self._run_one(plan))
            save_timings(self.config, self.display.typical)
            finished = self.finish(self.config) if self.finish is not None else None
        return outcomes, finished

    def _build(self) -> None:
        from baseline.build import clean_build

        run = self.plans[0].run if self.plans else 1
        self.display.step_started(run, BUILD)
        started = time.monotonic()
        record = clean_build(self.config)
        store.write_json_atomic(self.config.label_dir / "build.json", record)
        self.display.step_finished(
            run, BUILD, "ok", time.monotonic() - started, [f"{record['wheel']['name']} ({record['installer']})"]
        )

    def _run_one(self, plan: RunPlan) -> RunOutcome:
        from baseline.services.control import owned_stack

        config = self.config.with_run(plan.run)
        store.start_run(config, plan.run)
        status, error = "complete", None
        pending = list(plan.steps)
        self.display.step_started(plan.run, UP)
        up_started = time.monotonic()
        try:
            with owned_stack(config, self.target) as stack:
                up_seconds = time.monotonic() - up_started
                store.record_phase(config, plan.run, UP, status="ok", seconds=round(up_seconds, 2))
                self.display.step_finished(
                    plan.run, UP, "ok", up_seconds, [f"{stack.services} services, database {stack.database}"]
                )
                while pending:
                    step = pending.pop(0)
                    outcome = self._phase(config, plan.run, step)
                    if outcome.status != "ok":
                        status, error = "failed", outcome.error
                        break
                down_started = time.monotonic()
                self.display.step_started(plan.run, DOWN)
        except KeyboardInterrupt:
            store.update_manifest(
                config, plan.run, status="interrupted", finished_at=store.now_iso(), error="interrupted (Ctrl-C)"
            )
            raise
        except HarnessError as exc:
            status, error = "failed", one_line(str(exc))
            self.display.print(f"run {plan.run}: {exc.kind}: {exc}")
        else:
            self.display.step_finished(plan.run, DOWN, "ok", time.monotonic() - down_started)
        for step in pending:
            store.record_phase(config, plan.run, step.phase.name, status="skipped")
            self.display.step_finished(plan.run, step.phase.name, "skipped", 0.0)
        store.update_manifest(config, plan.run, status=status, finished_at=store.now_iso(), error=error)
        return RunOutcome(plan.run, status, error)

    def _phase(self, config: Config, run: int, step: Step) -> PhaseOutcome:
        name = step.phase.name
        log = config.run_dir / "logs" / f"{name}.log"
        started_at = store.now_iso()
        store.record_phase(config, run, name, status="running", started_at=started_at)
        self.display.step_started(run, name)
        try:
            outcome = run_phase_process(
                config, step, env=self._env(run), log=log, feed=self.display.progress, echo=self.verbose
            )
        except KeyboardInterrupt:
            store.record_phase(
                config, run, name, status="interrupted", started_at=started_at, finished_at=store.now_iso()
            )
            raise
        store.record_phase(
            config,
            run,
            name,
            status=outcome.status,
            started_at=started_at,
            finished_at=store.now_iso(),
            seconds=round(outcome.seconds, 2),
            exit_code=outcome.exit_code,
            log=str(log.relative_to(config.label_dir)),
            error=outcome.error,
        )
        lines = result_lines(config, step.phase) if outcome.status == "ok" else []
        self.display.step_finished(run, name, outcome.status, outcome.seconds, lines)
        if outcome.status != "ok" and not self.verbose:
            self.display.print(f"--- last lines of {log} ---\n{_tail(log)}\n---")
        return outcome


def run_failed(outcomes: Sequence[RunOutcome]) -> Failure | None:
    failed = [o for o in outcomes if o.status != "complete"]
    if not failed:
        return None
    listed = "; ".join(f"run {o.run}: {o.error or o.status}" for o in failed)
    return Failure(f"{len(failed)} of {len(outcomes)} run(s) failed ({listed}); the other runs are kept")
