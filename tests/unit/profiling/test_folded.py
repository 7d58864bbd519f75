"""Folded-stack text: parse, dump, merge, line-number stripping, bad input."""

from __future__ import annotations

import pytest

from baseline.profiling import folded

PY_SPY_RAW = """\
<module> (run.py:3);main (run.py:10);handle_result (tasker/orchestration/lifecycle/result_processor.py:88) 7

<module> (run.py:3);main (run.py:12);handle_result (tasker/orchestration/lifecycle/result_processor.py:91) 5
process 4242:"python -m tasker worker";<module> (run.py:3) 2
<module> (run.py:3);main (run.py:10);handle_result (tasker/orchestration/lifecycle/result_processor.py:88) 1
"""


def test_parse_sums_repeats_skips_blank_lines_and_keeps_spaces_in_frames() -> None:
    stacks = folded.parse(PY_SPY_RAW)
    assert len(stacks) == 3
    rp = "handle_result (tasker/orchestration/lifecycle/result_processor.py:88)"
    assert stacks[f"<module> (run.py:3);main (run.py:10);{rp}"] == 8
    assert stacks['process 4242:"python -m tasker worker";<module> (run.py:3)'] == 2
    assert folded.total(stacks) == 15


def test_lines_without_frames_are_kept_as_no_python_frames() -> None:
    assert folded.parse("a;b 3\n 2\n") == {"a;b": 3, folded.NO_PYTHON_FRAMES: 2}


def test_dump_parse_round_trip() -> None:
    stacks = folded.parse(PY_SPY_RAW)
    text = folded.dump(stacks)
    assert text.endswith("\n") and text.count("\n") == 3
    assert folded.parse(text) == stacks
    assert folded.dump({}) == ""


def test_strip_line_numbers_aggregates_by_function() -> None:
    stripped = folded.strip_line_numbers(folded.parse(PY_SPY_RAW))
    assert stripped == {
        "<module> (run.py);main (run.py);handle_result (tasker/orchestration/lifecycle/result_processor.py)": 13,
        'process 4242:"python -m tasker worker";<module> (run.py)': 2,
    }


def test_merge_adds_profiles() -> None:
    assert folded.merge({"a;b": 1, "a": 2}, {"a;b": 3}, {}) == {"a;b": 4, "a": 2}


@pytest.mark.parametrize(
    ("text", "line"),
    [("a;b 3\nthis is not a stack\n", 2), ("a;b 3\n\na;c x12\n", 3), ("17\n", 1), ("a;b -4\n", 1), ("a;b \u00b2\n", 1)],
)
def test_garbage_lines_are_rejected_with_their_number(text: str, line: int) -> None:
    with pytest.raises(ValueError, match=f"line {line} "):
        folded.parse(text)


def test_dump_rejects_bad_counts() -> None:
    with pytest.raises(ValueError, match="non-negative integer"):
        folded.dump({"a;b": 1.5})  # type: ignore[dict-item]


def test_split_frame() -> None:
    assert folded.split_frame("run (pkg/mod.py:12)") == ("run", "pkg/mod.py:12")
    assert folded.split_frame("<module> (x.py)") == ("<module>", "x.py")
    assert folded.split_frame("epoll_wait") == ("epoll_wait", "")


def test_normalize_makes_runs_comparable_and_redacts_secrets() -> None:
    parent = 'process 1:"python -m pytest lifecycle";'  # the profiled process: dropped (see the tests below)
    run1 = {
        f'{parent}process 4242:"python -m tasker worker --dsn postgresql://bob:s3cret@127.0.0.1:54321/db '
        'password=x1";thread (0x7F12AB);run (w.py:12)': 3
    }
    run2 = {
        f'{parent}process 977:"python -m tasker worker --dsn postgresql://bob:other@127.0.0.1:55555/db '
        'password=y2";thread (0x1);run (w.py:40)': 2
    }
    merged = folded.normalize(folded.merge(run1, run2))
    child = 'subprocess "python -m tasker worker --dsn postgresql://bob:***@127.0.0.1:N/db password=***"'
    assert merged == {f"{child};thread;run (w.py)": 5}
    assert folded.normalize(merged) == merged  # idempotent
    kept = folded.normalize(run1, keep_line_numbers=True)
    assert next(iter(kept)).endswith("run (w.py:12)") and "s3cret" not in next(iter(kept))


def test_the_profiled_process_frame_is_dropped_so_runs_with_and_without_it_match() -> None:
    with_root = {
        'process 11:"python tasker worker";<module> (tasker);run (w.py)': 70,
        'process 11:"python tasker worker";<module> (tasker);run (w.py);notifies (psycopg/c.py)': 20,
        'process 11:"python tasker worker"': 3,  # a sample before the first Python frame
        'process 11:"python tasker worker";process 12:"python helper";<module> (h.py)': 7,
    }
    without_root = {"<module> (tasker);run (w.py)": 70, "<module> (tasker);run (w.py);notifies (psycopg/c.py)": 20}
    normalized = folded.normalize(with_root)
    assert normalized == {
        "<module> (tasker);run (w.py)": 70,
        "<module> (tasker);run (w.py);notifies (psycopg/c.py)": 20,
        folded.NO_PYTHON_FRAMES: 3,
        'subprocess "python helper";<module> (h.py)': 7,
    }
    assert folded.normalize(normalized) == normalized
    # Merging before or after normalising gives the same profile, whichever runs carry the root frame.
    assert folded.normalize(folded.merge(with_root, without_root)) == folded.merge(
        normalized, folded.normalize(without_root)
    )


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("e2e-worker-2", "e2e-worker"),
        ("e2e-worker-1", "e2e-worker"),
        ("e2e-api", "e2e-api"),
        ("lifecycle", "lifecycle"),
    ],
)
def test_instances_of_a_role_kind_share_one_profile(name: str, kind: str) -> None:
    assert folded.profile_kind(name) == kind
