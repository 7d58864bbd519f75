"""The A/B plan: balanced, drawn orders per phase; block sizes; which phases a failed gate repeats."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from baseline import phases
from baseline.errors import BadInput
from baseline.pipeline import ab_plan


def test_each_side_goes_first_in_half_of_a_phases_blocks_in_a_drawn_sequence() -> None:
    plan = ab_plan.schedule(phases.RUN_PHASES, 10, seed=7)
    by_phase: dict[str, list[ab_plan.Block]] = {}
    for block in plan:
        by_phase.setdefault(block.phase.name, []).append(block)
    assert list(by_phase) == ["sql", "event", "task_init", "e2e", "lifecycle"]
    assert [b.block for b in by_phase["sql"]] == list(range(1, 11))
    assert len(by_phase["lifecycle"]) == ab_plan.MAX_LIFECYCLE_BLOCKS
    for blocks in by_phase.values():
        firsts = Counter(b.order[0] for b in blocks)
        assert firsts["base"] == firsts["head"] and all(set(b.order) == {"base", "head"} for b in blocks)
    assert [b.order for b in by_phase["sql"]] != [b.order for b in by_phase["event"]]  # drawn anew per phase
    assert ab_plan.schedule(phases.RUN_PHASES, 10, seed=7) == plan  # and reproducibly from the seed


def test_an_odd_block_count_draws_who_goes_first_in_the_extra_block() -> None:
    orders = ab_plan.balanced_orders(5, random.Random(1))
    firsts = Counter(first for first, _ in orders)
    assert sorted(firsts.values()) == [2, 3]


def test_fewer_than_three_blocks_is_bad_input() -> None:
    with pytest.raises(BadInput, match="at least 3 blocks"):
        ab_plan.schedule(phases.RUN_PHASES, 2, seed=0)


def test_block_sizes_share_a_baselines_samples_with_a_floor() -> None:
    assert ab_plan.block_samples("sql", 500, 3, 10) == 150
    assert ab_plan.block_samples("e2e", 10, 3, 6) == 6  # quick: 5 would be below the floor
    assert ab_plan.block_samples("e2e", 100, 3, 10, factor=1.5) == 45
    assert ab_plan.profiled_rounds(20, 10, quick=False) == 2 and ab_plan.profiled_rounds(20, 6, quick=True) == 1


def test_a_failed_gate_repeats_the_phases_that_feed_it_and_fails_only_when_it_fails_again() -> None:
    assert [p.name for p in ab_plan.confirmation_phases(["sql_unchanged"])] == ["sql"]
    assert [p.name for p in ab_plan.confirmation_phases(["lifecycle_within_max_ratio", "e2e_hard_regression"])] == [
        "task_init",
        "e2e",
        "lifecycle",
    ]
    first = {"sql_unchanged": False, "e2e_within_max_ratio": True, "no_new_hot_paths": False}
    again = {"sql_unchanged": True, "no_new_hot_paths": False}
    assert ab_plan.combine_passes(first, again) == {
        "sql_unchanged": True,
        "e2e_within_max_ratio": True,
        "no_new_hot_paths": False,
    }
    assert ab_plan.combine_passes({"sql_unchanged": False}, {}) == {"sql_unchanged": False}


def test_stack_rounds_cut_every_phase_at_the_same_block_numbers() -> None:
    plan = ab_plan.schedule(phases.RUN_PHASES, 10, seed=3)
    each = ab_plan.rounds(plan, 1)
    assert len(each) == 10 and sum(map(len, each)) == len(plan)
    assert [b.phase.name for b in each[0]] == ["sql", "event", "task_init", "e2e", "lifecycle"]
    assert [b.phase.name for b in each[9]] == ["sql", "event", "task_init", "e2e"]  # lifecycle stops at 6 blocks
    assert all({b.block for b in blocks} == {i + 1} for i, blocks in enumerate(each))
    pairs = ab_plan.rounds(plan, 4)
    assert [sorted({b.block for b in blocks}) for blocks in pairs] == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]
    assert [b.phase.name for b in pairs[0]][:4] == ["sql"] * 4  # within a round, phase after phase
    assert ab_plan.rounds(plan, 100) == [plan]
    with pytest.raises(BadInput, match="blocks-per-stack"):
        ab_plan.rounds(plan, 0)
