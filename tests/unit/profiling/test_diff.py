"""Profile diff on synthetic profiles of 10,000 samples each."""

from __future__ import annotations

import pytest

from baseline.profiling.diff import diff_profiles, two_proportion_z


def _profile(**frames: int) -> dict[str, int]:
    """main + one child per keyword; the rest of 10,000 samples lands in `main` itself."""
    stacks = {f"main (app.py);{name} (app.py)": n for name, n in frames.items()}
    stacks["main (app.py)"] = 10_000 - sum(frames.values())
    return stacks


BASE = _profile(grows=200, wobble=495, steady=3000, gone=300)
HEAD = _profile(grows=1000, wobble=505, steady=3010, fresh=600)


@pytest.fixture(scope="module")
def result() -> dict:
    return diff_profiles(BASE, HEAD)


def _row(result: dict, name: str) -> dict:
    return next(r for r in result["frames"] if r["frame"] == f"{name} (app.py)")


def test_growth_from_2_to_10_percent_is_significant_and_a_new_hot_path(result: dict) -> None:
    row = _row(result, "grows")
    assert row["base_share"] == pytest.approx(0.02) and row["head_share"] == pytest.approx(0.10)
    assert row["delta"] == pytest.approx(0.08) and row["significant"] and row["p_value"] < 1e-6
    assert "grows (app.py)" in {r["frame"] for r in result["new_hot_paths"]}


def test_small_wobble_is_not_significant_nor_a_hot_path(result: dict) -> None:
    for name in ("wobble", "steady"):  # 4.95% -> 5.05% crosses the threshold; 30.0% -> 30.1%
        row = _row(result, name)
        assert not row["significant"] and row["p_value"] > 0.5
    assert {r["frame"] for r in result["new_hot_paths"]} == {"grows (app.py)", "fresh (app.py)"}


def test_new_and_removed_frames(result: dict) -> None:
    assert [r["frame"] for r in result["new_frames"]] == ["fresh (app.py)"]
    assert [r["frame"] for r in result["removed_frames"]] == ["gone (app.py)"]
    assert result["base_total"] == result["head_total"] == 10_000
    assert result["frames"][0]["frame"] == "grows (app.py)"  # biggest change first


def test_min_share_filters_noise_frames() -> None:
    res = diff_profiles({"a": 9990, "a;b": 10}, {"a": 9995, "a;b": 5}, min_share=0.005)
    assert [r["frame"] for r in res["frames"]] == ["a"]


def test_idle_frames_are_never_hot_paths() -> None:
    res = diff_profiles(
        {"loop (app.py);select (selectors.py)": 100, "work (app.py)": 9900},
        {"loop (app.py);select (selectors.py)": 3000, "work (app.py)": 7000},
    )
    assert res["new_hot_paths"] == []
    assert any(r["frame"] == "select (selectors.py)" and r["significant"] for r in res["frames"])


def test_two_proportion_z_known_value() -> None:
    z, p = two_proportion_z(200, 10_000, 1000, 10_000)
    assert z == pytest.approx(0.08 / (0.06 * 0.94 * 2 / 10_000) ** 0.5)
    assert p < 1e-10
    assert two_proportion_z(0, 10, 0, 10) == (0.0, 1.0)


def test_empty_profile_is_rejected() -> None:
    with pytest.raises(ValueError, match="base profile has no samples"):
        diff_profiles({}, {"a": 1})


def test_process_frames_from_different_runs_match() -> None:
    base = {'process 11:"python -m tasker worker";work (w.py:3)': 100}
    head = {'process 22:"python -m tasker worker";work (w.py:4)': 100}
    res = diff_profiles(base, head)
    assert res["new_frames"] == [] and res["removed_frames"] == [] and res["new_hot_paths"] == []
