"""Statistics against known distributions and hand-made data (fixed seeds, small sizes)."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from baseline import stats


@pytest.mark.parametrize(
    "draw",
    [
        lambda rng: rng.uniform(0, 1, 1001),
        lambda rng: rng.normal(100, 15, 997),
        lambda rng: rng.lognormal(0, 0.7, 1500),
    ],
    ids=["uniform", "normal", "lognormal"],
)
@pytest.mark.parametrize("q", [0, 1, 25, 50, 90, 95, 99, 100])
def test_percentile_matches_numpy_linear(draw, q: float) -> None:
    x = draw(np.random.default_rng(7))
    assert stats.percentile(x.tolist(), q) == pytest.approx(float(np.percentile(x, q)), rel=1e-12)


def test_percentile_interpolates_linearly() -> None:
    assert stats.percentile([1, 2, 3, 4], 50) == 2.5
    assert stats.percentile([10, 20], 25) == 12.5


@pytest.mark.parametrize("bad", [-1, 100.5])
def test_percentile_rejects_q_out_of_range(bad: float) -> None:
    with pytest.raises(ValueError, match=r"\[0, 100\]"):
        stats.percentile([1, 2], bad)


def test_empty_and_non_finite_samples_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="empty"):
        stats.summarize([])
    with pytest.raises(ValueError, match="index 2"):
        stats.summarize([1.0, 2.0, float("nan")])


def test_summarize_known_values_and_json() -> None:
    x = np.random.default_rng(3).normal(50, 5, 800)
    s = stats.summarize(x.tolist(), n_boot=500)
    json.dumps(s)  # plain types only
    assert s["n"] == 800
    for key, q in (("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99)):
        assert s[key] == pytest.approx(np.percentile(x, q))
    assert s["min"] == x.min() and s["max"] == x.max()
    assert s["mean"] == pytest.approx(x.mean())
    assert s["stdev"] == pytest.approx(x.std(ddof=1))
    assert s["iqr"] == pytest.approx(np.percentile(x, 75) - np.percentile(x, 25))
    assert s["mad"] == pytest.approx(np.median(np.abs(x - np.median(x))))
    assert s["p50_ci"][0] <= s["p50"] <= s["p50_ci"][1]
    assert s["p95_ci"][0] <= s["p95"] <= s["p95_ci"][1]
    assert all(type(v) in (int, float, list) for v in s.values())


def test_summarize_is_reproducible_with_a_seed() -> None:
    x = np.random.default_rng(4).exponential(1.0, 300).tolist()
    assert stats.summarize(x, seed=11) == stats.summarize(x, seed=11)
    assert stats.summarize(x, seed=11)["p50_ci"] != stats.summarize(x, seed=12)["p50_ci"]


def test_tukey_outlier_counts_on_hand_made_data() -> None:
    # sorted: -50, 1..9, 16 -> q1 = 2.5, q3 = 7.5, IQR 5; fences [-5, 15]; far fences [-12.5, 22.5]
    s = stats.summarize([5, 16, -50, 1, 2, 3, 4, 6, 7, 8, 9], n_boot=50)
    assert s["iqr"] == 5.0
    assert (s["outliers_low"], s["outliers_high"], s["outliers_far"]) == (1, 1, 1)


def test_single_sample_summary() -> None:
    s = stats.summarize([42.0], n_boot=10)
    assert s["stdev"] == 0.0 and s["p50_ci"] == [42.0, 42.0] and s["n"] == 1


def test_bootstrap_ci_of_median_covers_true_median() -> None:
    covered = 0
    for seed in range(20):
        x = np.random.default_rng(seed).normal(100.0, 10.0, 400)
        lo, hi = stats.summarize(x.tolist(), n_boot=1000, seed=seed)["p50_ci"]
        covered += lo <= 100.0 <= hi
    assert covered >= 17  # nominal 95%: 19 of 20 expected


@pytest.mark.parametrize("n", [1, 2, 400, 1500])
def test_summarize_cis_match_a_resampling_bootstrap(n: int) -> None:
    # summarize draws bootstrap order statistics directly; a brute-force resampling bootstrap must agree.
    x = np.random.default_rng(n).lognormal(0, 0.6, n).tolist()
    s = stats.summarize(x, n_boot=4000, seed=1)
    p50 = stats.bootstrap_ci(x, np.median, n_boot=4000, seed=2)
    p95 = stats.bootstrap_ci(x, lambda a, axis: np.percentile(a, 95, axis=axis), n_boot=4000, seed=2)
    spread = max(x) - min(x) or 1.0
    assert s["p50_ci"] == pytest.approx(p50, abs=0.03 * spread)
    assert s["p95_ci"] == pytest.approx(p95, abs=0.03 * spread)


def test_summarize_large_input_is_fast() -> None:
    x = np.random.default_rng(0).lognormal(0, 0.5, 200_000)
    started = time.process_time()
    s = stats.summarize(x.tolist())
    assert time.process_time() - started < 2.0
    assert s["p50_ci"][0] < 1.0 < s["p50_ci"][1]  # true median of lognormal(0, .5) is 1


def test_bootstrap_ci_vectorised_and_per_row_statistics_agree() -> None:
    x = np.random.default_rng(5).lognormal(0, 0.5, 300).tolist()
    vec = stats.bootstrap_ci(x, np.median, n_boot=400, seed=1)
    rows = stats.bootstrap_ci(x, lambda a: float(np.median(a)), n_boot=400, seed=1)
    assert vec == pytest.approx(rows)
    lo, hi = stats.bootstrap_ci(x, np.mean, n_boot=400, seed=1, confidence=0.9)
    assert lo < float(np.mean(x)) < hi


def test_cv_and_run_stability() -> None:
    assert stats.cv([5.0]) == 0.0
    assert stats.cv([3.0, 3.0, 3.0]) == 0.0
    assert stats.cv([9.0, 10.0, 11.0]) == pytest.approx(0.1)
    stable = stats.run_stability([[1, 10, 10, 10], [10, 10, 11], [10, 10]], cv_threshold=0.10)
    assert stable["medians"] == [10.0, 10.0, 10.0] and not stable["unstable"]
    shaky = stats.run_stability([[10, 10], [15, 15], [10, 10]], cv_threshold=0.10)
    assert shaky["cv"] > 0.1 and shaky["unstable"] and shaky["runs"] == 3


def test_hierarchical_ratio_recovers_a_known_shift_fast() -> None:
    rng = np.random.default_rng(9)
    base = [rng.lognormal(0, 0.5, 2000) for _ in range(3)]
    head = [r * 1.2 for r in base]
    started = time.process_time()  # CPU time: other processes on a shared machine do not count
    res = stats.hierarchical_bootstrap_ratio(base, head, quantile=50, n_boot=2000, seed=0)
    elapsed = time.process_time() - started
    assert res["ratio"] == pytest.approx(1.2)
    assert res["head"] == pytest.approx(res["base"] * 1.2)
    assert res["ci"][0] <= 1.2 <= res["ci"][1] and res["ci"][0] > 1.1
    assert elapsed < 1.0, f"hierarchical bootstrap took {elapsed:.2f}s for 3x2000 samples, 2000 resamples"


def test_hierarchical_ratio_handles_uneven_and_single_runs() -> None:
    rng = np.random.default_rng(2)
    base = [rng.normal(100, 5, n) for n in (300, 120, 500)]
    head = [rng.normal(100, 5, 400)]
    res = stats.hierarchical_bootstrap_ratio(base, head, quantile=95, n_boot=500)
    assert res["ci"][0] < 1.0 < res["ci"][1] or abs(res["ratio"] - 1.0) < 0.03
    assert res["base"] == pytest.approx(np.percentile(np.concatenate(base), 95))
    multi = stats.hierarchical_bootstrap_ratios(base, head, quantiles=(50, 95), n_boot=500)
    assert multi[95.0]["ci"] == res["ci"]  # same resamples serve every quantile


def test_hierarchical_ratio_between_run_spread_widens_the_ci() -> None:
    rng = np.random.default_rng(1)
    tight = [rng.normal(100, 5, 500) for _ in range(3)]
    spread = [rng.normal(m, 5, 500) for m in (90, 100, 110)]
    w_tight = np.diff(stats.hierarchical_bootstrap_ratio(tight, tight, n_boot=500)["ci"])[0]
    w_spread = np.diff(stats.hierarchical_bootstrap_ratio(spread, spread, n_boot=500)["ci"])[0]
    assert w_spread > 3 * w_tight


def test_hierarchical_ratio_beyond_exact_code_range() -> None:
    # 3 x 25,000 pooled samples exceed the 16-bit exact range; grouped codes must still give a tight, right CI.
    rng = np.random.default_rng(4)
    base = [rng.lognormal(0, 0.5, 25_000) for _ in range(3)]
    res = stats.hierarchical_bootstrap_ratio(base, [r * 1.1 for r in base], n_boot=200)
    assert res["ratio"] == pytest.approx(1.1)
    assert 1.07 < res["ci"][0] <= 1.1 <= res["ci"][1] < 1.13


def test_hierarchical_ratio_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="at least one run"):
        stats.hierarchical_bootstrap_ratio([], [[1.0]])
    with pytest.raises(ValueError, match="not positive"):
        stats.hierarchical_bootstrap_ratio([[0.0, 0.0]], [[1.0, 2.0]])
    with pytest.raises(ValueError, match="head run 2"):
        stats.hierarchical_bootstrap_ratio([[1.0]], [[1.0], []])


def test_paired_block_bootstrap_cancels_drift_between_pairs() -> None:
    """Pairs measured back to back on a machine that drifts 3x between pairs: the paired CI stays on the true 1.05,
    where resampling each side's blocks on its own spreads the drift into the ratio's CI."""
    rng = np.random.default_rng(3)
    speeds = [1.0, 3.0, 1.5, 2.0, 1.2]
    base = [(s * rng.lognormal(0.0, 0.05, 60) * 1e6).tolist() for s in speeds]
    head = [(s * 1.05 * rng.lognormal(0.0, 0.05, 60) * 1e6).tolist() for s in speeds]
    paired = stats.paired_block_bootstrap_ratio(base, head, n_boot=1000)
    lo, hi = paired["ci"]
    assert 1.0 < lo < 1.05 < hi < 1.1 and paired["pairs"] == 5
    unpaired = stats.hierarchical_bootstrap_ratio(base, head, n_boot=1000)["ci"]
    assert unpaired[1] - unpaired[0] > 3 * (hi - lo)
    # blocks of unequal sizes (padded inside _bootstrap_quantiles), to the same effect
    uneven = stats.paired_block_bootstrap_ratio([b[: 40 + i] for i, b in enumerate(base)], head, n_boot=300)
    assert 1.0 < uneven["ci"][0] < 1.05 < uneven["ci"][1] < 1.1


def test_paired_block_bootstrap_refuses_unpaired_input() -> None:
    with pytest.raises(ValueError, match="same positive number of blocks on both sides, got 2 and 1"):
        stats.paired_block_bootstrap_ratio([[1.0], [2.0]], [[1.0]])
    with pytest.raises(ValueError, match="head block 1 samples is empty"):
        stats.paired_block_bootstrap_ratio([[1.0]], [[]])


# ------------------------------------------------------------------------------------------ paired blocks


def test_hodges_lehmann_is_the_median_of_pairwise_means_and_shrugs_off_one_wild_value() -> None:
    assert float(stats.hodges_lehmann(np.array([1.0, 2.0, 3.0]))) == pytest.approx(2.0)
    assert float(stats.hodges_lehmann(np.array([0.0, 0.0, 10.0]))) == pytest.approx(2.5)  # Walsh: 0,0,5,0,5,10
    calm = [0.01, -0.01, 0.0, 0.005, -0.005, 0.002, -0.002, 0.0, 0.003, -0.003]
    wild = [*calm[:-1], math.log(1.8)]  # one block of ten landed in a disturbance on one side
    assert abs(float(stats.hodges_lehmann(np.array(wild)))) < 0.01
    assert float(np.mean(wild)) > 0.05
    batch = stats.hodges_lehmann(np.array([calm, wild]), axis=-1)  # vectorised for the bootstrap
    assert batch.shape == (2,) and abs(float(batch[1])) < 0.01


def test_block_ratio_from_ten_steady_blocks_with_one_wild_one_stays_narrow() -> None:
    rng = np.random.default_rng(3)
    steady = list(rng.normal(0.0, 0.01, size=10))
    wild = [*steady[:-1], math.log(1.8)]
    plain, robust = stats.block_ratio(steady), stats.block_ratio(wild)
    assert plain["replicates"] == robust["replicates"] == 10
    assert 0.98 < robust["ratio"] < 1.02 and 0.95 < robust["ci"][0] <= robust["ratio"] <= robust["ci"][1] < 1.06
    assert robust["se_log"] is not None and robust["se_log"] < 0.03


def test_block_ratio_finds_a_shift_every_block_shows() -> None:
    shifted = [math.log(1.10) + d for d in (0.01, -0.01, 0.0, 0.005, -0.005, 0.002, -0.002, 0.0)]
    result = stats.block_ratio(shifted)
    assert result["ratio"] == pytest.approx(1.10, rel=0.01) and result["ci"][0] > 1.08


def test_block_ratio_needs_three_blocks_for_an_interval() -> None:
    result = stats.block_ratio([0.1, 0.2])
    assert result["ci"] is None and "at least 3" in result["why_no_ci"]
