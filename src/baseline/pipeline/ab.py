"""An A/B of two revisions of the system under test, measured in the same minutes by the same harness code.

Each side is its target's revision built in its own folder (for tasker: a git worktree and a venv) and runs on a
stack of its own (own cluster, own processes, the same seeded dataset); both stacks are up at once, and both are
started afresh for every round of `ab_blocks_per_stack` blocks. Phase after phase, blocks alternate between the
sides in a drawn, balanced order (pipeline.ab_plan), one side under load at a time. A bench's block is one
`baseline paired-bench` process in which both sides take turns every few timed calls (benches.paired), the side
drawn first starting; a lifecycle block is one `baseline lifecycle-profile` process per side, in the drawn order.
Each side's results are a run of its label under `profiles/ab/<base>__<head>/`. The verdict comes from the pairs of
blocks; a failed gate gets one confirmation pass over the phases that feed it, and fails only when it fails again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from baseline import compare_io, phases, store
from baseline.benches.e2e import PROFILED_ROUNDS
from baseline.benches.paired import PAIR_ENV
from baseline.compare_logic import Criteria
from baseline.config import Config, environment_for
from baseline.errors import Failure
from baseline.pipeline import ab_plan
from baseline.pipeline.display import PipelineDisplay
from baseline.pipeline.plan import Step
from baseline.pipeline.runner import PhaseOutcome, load_timings, result_lines, run_phase_process, save_timings
from baseline.progress import interactive
from baseline.results import load_label
from baseline.revisions import Revision
from baseline.services.control import owned_stack
from baseline.store import LOCK_ENV
from baseline.targets import load_target, revisable
from baseline.targets.contract import Target


@dataclass(frozen=True)
class Side:
    name: str
    revision: Revision
    into: Path
    target: Target
    workdir: Path

    def config(self, base: Config, output_dir: Path) -> Config:
        """The side's config: its label in the pass's folder, its own work dir (cluster, state), its build."""
        return dataclasses.replace(
            base, label=self.name, output_dir=output_dir, workdir=self.workdir, revision_dir=str(self.into)
        )


def ab_folder(config: Config, base: Revision, head: Revision) -> Path:
    return config.output_dir / "ab" / f"{base.short}__{head.short}"


class ABRun:
    """One A/B: resolve and build both sides, start both stacks, run the blocks, judge, confirm, report."""

    def __init__(
        self,
        config: Config,
        *,
        base_ref: str | None,
        head_ref: str | None,
        cli_values: Mapping[str, Any],
        verbose: bool,
        console: Console,
        seed: int = 0,
    ) -> None:
        self.config, self.cli_values, self.verbose, self.console = config, dict(cli_values), verbose, console
        self.seed = seed
        self.plain = load_target(config.target)
        chooser = revisable(self.plain, config.target)
        root = config.project_root
        self.revisions = {
            "base": chooser.resolve_revision(base_ref, side="base", project_root=root),
            "head": chooser.resolve_revision(head_ref, side="head", project_root=root),
        }
        self.folder = ab_folder(config, self.revisions["base"], self.revisions["head"])
        self.blocks = config.ab_blocks
        self.plan = ab_plan.schedule(phases.RUN_PHASES, self.blocks, seed)
        steps = [(1, f"build {side}") for side in ab_plan.SIDES]
        for blocks in ab_plan.rounds(self.plan, config.ab_blocks_per_stack):
            steps += [(blocks[0].block, f"up {side}") for side in blocks[0].order]
            steps += [(b.block, label) for b in blocks for label in step_labels(b)]
        self.display = PipelineDisplay(
            console,
            title=f"A/B {self.revisions['base'].short} -> {self.revisions['head'].short}",
            schedule=steps,
            runs=self.blocks,
            typical=load_timings(config),
            live=interactive() and not verbose,
            unit="block",
        )
        self.sides: dict[str, Side] = {}

    # ------------------------------------------------------------------------------------------------ steps

    def _build(self) -> None:
        installer = revisable(self.plain, self.config.target)
        builds = self.config.workdir / "ab" / "builds"
        for name, revision in self.revisions.items():
            self.display.step_started(1, f"build {name}")
            started = time.monotonic()
            into = builds / f"{name}-{revision.short}"
            target = installer.install(revision, into)
            self.sides[name] = Side(name, revision, into, target, self.config.workdir / "ab" / name)
            self.display.step_finished(
                1, f"build {name}", "ok", time.monotonic() - started, [f"{revision.short} {revision.subject}"[:100]]
            )

    def _env(self, side: Side, config: Config, block: int, phase: str) -> dict[str, str]:
        samples = ab_plan.block_samples(
            phase, self.config.samples.get(phase, 1), self.config.runs, self.blocks, self.config.ab_sample_factor
        )
        env = environment_for(
            {
                **self.cli_values,
                "label": side.name,
                "run": block,
                "output_dir": str(config.output_dir),
                "workdir": str(side.workdir),
                "revision_dir": str(side.into),
                "profiled_rounds": ab_plan.profiled_rounds(PROFILED_ROUNDS, self.blocks, self.config.quick),
            }
        )
        if phase in self.config.samples:
            env[f"BASELINE_SAMPLES_{phase.upper()}"] = str(samples)
        env[LOCK_ENV] = f"{config.label_dir / '.lock'}:{os.getpid()}"
        return env

    def _pass(self, output_dir: Path, plan: Sequence[ab_plan.Block]) -> None:
        """Every block of the plan, both sides each, into `output_dir/<side>/run-<block>/`."""
        configs = {name: side.config(self.config, output_dir) for name, side in self.sides.items()}
        with contextlib.ExitStack() as locks:
            for config in configs.values():
                locks.enter_context(store.label_lock(config))
            opened: set[tuple[str, int]] = set()
            for blocks in ab_plan.rounds(plan, self.config.ab_blocks_per_stack):
                with self._stacks(output_dir, blocks[0].block, blocks[0].order):
                    for block in blocks:
                        for name in block.order:
                            if (name, block.block) not in opened:
                                store.start_run(configs[name].with_run(block.block), block.block)
                                opened.add((name, block.block))
                        block_configs = {name: configs[name].with_run(block.block) for name in block.order}
                        if block.phase.is_bench:
                            self._paired(block_configs, block)
                        else:
                            for name in block.order:
                                self._single(self.sides[name], block_configs[name], block)
            for name, block_number in opened:
                store.update_manifest(
                    configs[name].with_run(block_number), block_number, status="complete", finished_at=store.now_iso()
                )

    @contextlib.contextmanager
    def _stacks(self, output_dir: Path, block: int, order: Sequence[str]) -> Iterator[None]:
        """Both sides' stacks, started afresh for one round of blocks (in `order`, the round's first drawn order,
        so neither side is always the one started first) and stopped after it."""
        with contextlib.ExitStack() as stacks:
            for name in order:
                side = self.sides[name]
                self.display.step_started(block, f"up {name}")
                started = time.monotonic()
                config = side.config(self.config, output_dir).with_run(block)
                stack = stacks.enter_context(owned_stack(config, side.target))
                self.display.step_finished(
                    block, f"up {name}", "ok", time.monotonic() - started, [f"database {stack.database}"]
                )
            yield

    def _record(self, config: Config, block: ab_plan.Block, outcome: PhaseOutcome, started_at: str, log: Path) -> None:
        store.record_phase(
            config,
            block.block,
            block.phase.name,
            status=outcome.status,
            started_at=started_at,
            finished_at=store.now_iso(),
            seconds=round(outcome.seconds, 2),
            exit_code=outcome.exit_code,
            log=str(log.relative_to(config.label_dir)),
            error=outcome.error,
            first=block.order[0],
        )

    def _failed(self, configs: Mapping[str, Config], block: ab_plan.Block, outcome: PhaseOutcome, log: Path) -> None:
        for config in configs.values():
            store.update_manifest(config, block.block, status="failed", error=outcome.error)
        who = ", ".join(f"{name} ({self.sides[name].revision.short})" for name in configs)
        raise Failure(f"A/B {who}, block {block.block}: {outcome.error}; log: {log}")

    def _single(self, side: Side, config: Config, block: ab_plan.Block) -> None:
        """One phase process of one side (the lifecycle profile)."""
        phase = block.phase
        label = f"{phase.name} {side.name}"
        log = config.run_dir / "logs" / f"{phase.name}.log"
        started_at = store.now_iso()
        self.display.step_started(block.block, label)
        outcome = run_phase_process(
            config,
            Step(phase),
            env=self._env(side, config, block.block, phase.name),
            log=log,
            feed=self.display.progress,
            echo=self.verbose,
        )
        self._record(config, block, outcome, started_at, log)
        lines = result_lines(config, phase) if outcome.status == "ok" and self.verbose else []
        self.display.step_finished(block.block, label, outcome.status, outcome.seconds, lines)
        if outcome.status != "ok":
            self._failed({side.name: config}, block, outcome, log)

    def _paired(self, configs: Mapping[str, Config], block: ab_plan.Block) -> None:
        """One `paired-bench` process: both sides of a bench's block, taking turns, the drawn side first."""
        phase = block.phase
        (label,) = step_labels(block)
        first = configs[block.order[0]]
        log = first.run_dir / "logs" / f"{phase.name}.log"
        pair = {
            "order": list(block.order),
            "sides": {
                name: self._env(self.sides[name], config, block.block, phase.name) for name, config in configs.items()
            },
        }
        env = {
            PAIR_ENV: json.dumps(pair),
            LOCK_ENV: "\n".join(f"{c.label_dir / '.lock'}:{os.getpid()}" for c in configs.values()),
        }
        step = Step(phase, (phase.name, *(("--profile",) if phase.name == "e2e" else ())), command="paired-bench")
        started_at = store.now_iso()
        self.display.step_started(block.block, label)
        outcome = run_phase_process(first, step, env=env, log=log, feed=self.display.progress, echo=self.verbose)
        for config in configs.values():
            own_log = config.run_dir / "logs" / f"{phase.name}.log"
            if own_log != log and log.exists():
                own_log.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(log, own_log)  # each side's run keeps the block's log
            self._record(config, block, outcome, started_at, own_log)
        lines = result_lines(first, phase) if outcome.status == "ok" and self.verbose else []
        self.display.step_finished(block.block, label, outcome.status, outcome.seconds, lines)
        if outcome.status != "ok":
            self._failed(configs, block, outcome, log)

    def _judge(self, output_dir: Path, criteria: Criteria) -> tuple[dict[str, Any], dict[str, str]]:
        names = (self.revisions["base"].short, self.revisions["head"].short)
        return compare_io.build_verdict(
            load_label(output_dir / "base"),
            load_label(output_dir / "head"),
            criteria=criteria,
            paired=True,
            names=names,
        )

    # ------------------------------------------------------------------------------------------------ the run

    def _keep_earlier(self) -> None:
        """An earlier A/B of the same pair is moved aside (renamed with its time), never overwritten."""
        if self.folder.exists():
            stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(self.folder.stat().st_mtime))
            self.folder.rename(self.folder.with_name(f"{self.folder.name}.{stamp}"))

    def run(self) -> tuple[dict[str, Any], int]:
        criteria = compare_io.criteria_from(self.config.criteria)
        self._keep_earlier()
        with self.display:
            self._build()
            self._pass(self.folder, self.plan)
            verdict, svgs = self._judge(self.folder, criteria)
            failed = [g["name"] for g in verdict["gates"] if not g["passed"]]
            if failed:
                confirm_dir = self.folder / "confirm"
                plan = ab_plan.schedule(ab_plan.confirmation_phases(failed), self.blocks, self.seed + 1)
                self._pass(confirm_dir, plan)
                second, second_svgs = self._judge(confirm_dir, criteria)
                second.update(
                    {"exit_code": compare_io.exit_code(second, strict=False), "strict": False},
                    output=str(confirm_dir),
                )
                compare_io.write_compare(confirm_dir, second, second_svgs)
                verdict = combine(verdict, second, failed)
            save_timings(self.config, self.display.typical)
        code = compare_io.exit_code(verdict, strict=False)
        verdict.update(
            {
                "exit_code": code,
                "strict": False,
                "output": str(self.folder),
                "revisions": {name: rev.public() for name, rev in self.revisions.items()},
                "blocks": self.blocks,
                "blocks_per_stack": self.config.ab_blocks_per_stack,
                "seed": self.seed,
            }
        )
        compare_io.write_compare(self.folder, verdict, svgs)
        return verdict, code


def step_labels(block: ab_plan.Block) -> list[str]:
    """What the console calls a block's process(es): one for a paired bench, one per side for the lifecycle."""
    if block.phase.is_bench:
        return [f"{block.phase.name} pair"]
    return [f"{block.phase.name} {side}" for side in block.order]


def combine(first: dict[str, Any], second: dict[str, Any], failed: Sequence[str]) -> dict[str, Any]:
    """The first pass's verdict with each gate that failed there judged again by the confirmation pass: a gate
    fails only when it failed in both."""
    second_gates = {g["name"]: g for g in second["gates"]}
    passed = ab_plan.combine_passes(
        {g["name"]: g["passed"] for g in first["gates"]}, {n: g["passed"] for n, g in second_gates.items()}
    )
    gates = []
    for gate in first["gates"]:
        again = second_gates.get(gate["name"])
        entry = {**gate, "passed": passed[gate["name"]], "first_pass": gate["passed"]}
        if gate["name"] in failed and again is not None:
            entry["confirmation"] = {"passed": again["passed"], "detail": again["detail"]}
            entry["detail"] = (
                f"{gate['detail']} -- confirmation pass: {'passed' if again['passed'] else 'failed again'}: "
                f"{again['detail']}"
            )
        gates.append(entry)
    confirmed = [g["name"] for g in gates if not g["passed"]]
    summary = f"confirmation pass over {', '.join(failed)}: " + (
        f"failed again: {', '.join(confirmed)}" if confirmed else "every gate held the second time"
    )
    return {
        **first,
        "gates": gates,
        "passed": all(g["passed"] for g in gates),
        "confirmation": {"failed_first": list(failed), "summary": summary, "output": "confirm/"},
    }
