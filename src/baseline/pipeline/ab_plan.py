"""The plan of an A/B run: which side measures first in each block of each phase, how many blocks and samples,
and which phases a failed gate's confirmation pass repeats. Pure: the runner does the measuring.

Randomized, balanced interleaving (Abedi and Brecht, ICPE 2017): each phase takes its blocks in turn, and within a
block both sides run back to back, in an order drawn so that each side goes first in half of the blocks; drift
between blocks then falls on both sides alike and cancels out of the pairs' ratios.

The blocks are cut into stack rounds: both stacks start afresh for each round, which runs its blocks of every
phase. A started set of processes keeps its own small speed offset for as long as it lives (memory layout, hash
seeds), so with one stack pair for the whole A/B that offset would be in every block's ratio alike, a bias no
interval shows; with fresh stacks it varies from round to round and the blocks' spread carries it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from baseline import phases
from baseline.errors import BadInput
from baseline.phases import Phase

SIDES = ("base", "head")
#: Fewest samples a block of each phase takes: a block's median must itself be steady.
MIN_BLOCK_SAMPLES = {"sql": 20, "event": 40, "task_init": 20, "e2e": 6}
MIN_BLOCKS = 3  # fewer give no interval (stats.MIN_REPLICATES)
#: The lifecycle profile takes at most this many blocks: each is a whole run of the lifecycle tests.
MAX_LIFECYCLE_BLOCKS = 6
#: The gates each phase feeds: a failed gate's confirmation pass repeats these phases only.
GATE_PHASES = {
    "e2e_within_max_ratio": ("e2e",),
    "e2e_hard_regression": ("e2e",),
    "sql_unchanged": ("sql",),
    "lifecycle_within_max_ratio": ("task_init", "e2e", "lifecycle"),
    "no_new_hot_paths": ("e2e", "lifecycle"),
    "message_passing_share": ("e2e", "lifecycle"),
}


@dataclass(frozen=True)
class Block:
    """One block of one phase: both sides, `order[0]` first."""

    phase: Phase
    block: int
    order: tuple[str, str]


def block_count(phase: Phase, blocks: int) -> int:
    return min(blocks, MAX_LIFECYCLE_BLOCKS) if phase is phases.LIFECYCLE else blocks


def balanced_orders(blocks: int, rng: random.Random) -> list[tuple[str, str]]:
    """Each side first in half of the blocks (one more for an odd count, drawn), in a random sequence."""
    firsts = [SIDES[i % 2] for i in range(blocks)]
    if blocks % 2:
        firsts[-1] = rng.choice(SIDES)
    rng.shuffle(firsts)
    return [(first, SIDES[1] if first == SIDES[0] else SIDES[0]) for first in firsts]


def schedule(run_phases: Sequence[Phase], blocks: int, seed: int, *, first_block: int = 1) -> list[Block]:
    """Phase after phase, each phase's blocks in turn (numbered from `first_block`), sides in a drawn order."""
    if blocks < MIN_BLOCKS:
        raise BadInput(f"--blocks {blocks}: an A/B needs at least {MIN_BLOCKS} blocks (an interval needs them)")
    rng = random.Random(seed)
    out: list[Block] = []
    for phase in run_phases:
        count = block_count(phase, blocks)
        for offset, order in enumerate(balanced_orders(count, rng)):
            out.append(Block(phase, first_block + offset, order))
    return out


def rounds(plan: Sequence[Block], blocks_per_stack: int) -> list[list[Block]]:
    """The plan cut into stack rounds of `blocks_per_stack` consecutive block numbers (of every phase); a round
    keeps the plan's order (phase after phase)."""
    if blocks_per_stack < 1:
        raise BadInput(f"--blocks-per-stack {blocks_per_stack}: give at least 1")
    first = min((b.block for b in plan), default=1)
    out: dict[int, list[Block]] = {}
    for block in plan:
        out.setdefault((block.block - first) // blocks_per_stack, []).append(block)
    return [out[index] for index in sorted(out)]


def block_samples(phase: str, samples_per_run: int, runs: int, blocks: int, factor: float = 1.0) -> int:
    """Per block, a share of `factor` times what `runs` baseline runs would take, and never fewer than the phase's
    minimum."""
    return max(MIN_BLOCK_SAMPLES.get(phase, 1), math.ceil(samples_per_run * runs * factor / blocks))


def profiled_rounds(full_rounds: int, blocks: int, quick: bool) -> int:
    """The E2E profiled pass's rounds per block: the baseline's rounds spread over the blocks."""
    return 1 if quick else max(1, full_rounds // blocks)


def confirmation_phases(failed_gates: Sequence[str]) -> list[Phase]:
    """The phases that feed the failed gates, in run order."""
    wanted = {name for gate in failed_gates for name in GATE_PHASES.get(gate, ())}
    return [phase for phase in phases.RUN_PHASES if phase.name in wanted]


def combine_passes(first: Mapping[str, bool], confirmation: Mapping[str, bool]) -> dict[str, bool]:
    """A gate fails only when it failed in the first pass and again in its confirmation pass."""
    return {gate: passed or confirmation.get(gate, False) for gate, passed in first.items()}
