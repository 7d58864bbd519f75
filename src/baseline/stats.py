"""Pure statistics for latency samples: percentiles, bootstrap CIs, outliers, run stability, compare ratios.

Everything here takes plain sequences and returns plain Python numbers so results can go straight into JSON.
Bootstraps are seeded (`numpy.random.default_rng(seed)`) so a summary is reproducible from its samples.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

__all__ = [
    "block_ratio",
    "bootstrap_ci",
    "cv",
    "hierarchical_bootstrap_ratio",
    "hierarchical_quantile_ci",
    "hodges_lehmann",
    "minimum_detectable_effect",
    "paired_block_bootstrap_ratio",
    "paired_log_ratios",
    "percentile",
    "run_ratio",
    "run_stability",
    "summarize",
]

# Upper bound on elements materialised per bootstrap chunk (keeps memory near 10-40 MB whatever the sample size).
_CHUNK_ELEMENTS = 4_000_000
# Distinct 16-bit codes for pooled samples (numpy radix-sorts 16-bit integers); the top value is the sentinel.
_MAX_CODES = 65_535


def _as_array(samples: Sequence[float], what: str = "samples") -> np.ndarray:
    """Validate and convert; an empty or non-finite input is the caller's bug, so say exactly what is wrong."""
    try:
        arr = np.asarray(samples, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be a sequence of numbers: {exc}") from exc
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a flat sequence of numbers, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{what} is empty: at least one sample is needed to compute statistics")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"{what} has a non-finite value ({arr[bad[0]]!r}) at index {int(bad[0])}")
    return arr


def _check_boot(n_boot: int, confidence: float) -> None:
    if not isinstance(n_boot, int) or isinstance(n_boot, bool) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")


def _check_q(q: float) -> None:
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile q must be within [0, 100], got {q!r}")


def percentile(samples: Sequence[float], q: float) -> float:
    """Percentile with linear interpolation between order statistics (numpy's default 'linear' method)."""
    _check_q(q)
    return float(np.percentile(_as_array(samples), q))


def _ci(replicates: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1.0 - confidence) / 2.0 * 100.0
    lo, hi = np.percentile(replicates, [tail, 100.0 - tail])
    return float(lo), float(hi)


def _accepts_axis(statistic: Callable[..., Any]) -> bool:
    try:
        return "axis" in inspect.signature(statistic).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False


def bootstrap_ci(
    samples: Sequence[float],
    statistic: Callable[..., Any],
    *,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of `statistic`.

    `statistic` is called on a 2-D array of resamples with `axis=1` when it takes an `axis` argument (np.median,
    np.mean, ...), which is vectorised and fast; otherwise it is called once per resample with a 1-D array.
    """
    arr = _as_array(samples)
    _check_boot(n_boot, confidence)
    rng = np.random.default_rng(seed)
    n = arr.size
    vectorised = _accepts_axis(statistic)
    chunk = max(1, _CHUNK_ELEMENTS // n)
    reps: list[np.ndarray] = []
    done = 0
    while done < n_boot:
        rows = min(chunk, n_boot - done)
        resamples = arr[rng.integers(0, n, size=(rows, n))]
        if vectorised:
            reps.append(np.asarray(statistic(resamples, axis=1), dtype=np.float64).reshape(rows))
        else:
            reps.append(np.array([float(statistic(row)) for row in resamples], dtype=np.float64))
        done += rows
    return _ci(np.concatenate(reps), confidence)


def _bootstrap_quantiles(
    runs: Sequence[np.ndarray],
    qs: Sequence[float],
    n_boot: int,
    rng: np.random.Generator,
    picks: np.ndarray | None = None,
) -> np.ndarray:
    """Hierarchical bootstrap replicates of pooled quantiles, shape (n_boot, len(qs)).

    Each replicate picks len(runs) runs with replacement (or takes row i of `picks`, shape (n_boot, len(runs)),
    when the caller pairs them with another side's), then each picked run's own size of samples with
    replacement from it, and takes linear-interpolated quantiles of the pooled resample. Values are replaced by
    16-bit codes (their ranks in the pooled sorted data) so each replicate is a radix sort; above 65,534 pooled
    samples a code groups a few adjacent order statistics (error under one group). Runs of unequal size are
    padded with a sentinel code that sorts last.
    """
    sizes = np.array([r.size for r in runs], dtype=np.int64)
    n_runs, n_max, total = len(runs), int(sizes.max()), int(sizes.sum())
    pooled = np.concatenate(runs)
    order = np.argsort(pooled, kind="stable")
    sorted_pooled = pooled[order]
    rank = np.empty(total, dtype=np.int64)
    rank[order] = np.arange(total)
    if total < _MAX_CODES:  # exact: the code is the rank
        codes, code_values = rank, sorted_pooled
    else:  # adjacent order statistics share a code; each code stands for the middle one of its group
        codes = rank * _MAX_CODES // total
        first = np.searchsorted(codes[order], np.arange(_MAX_CODES))
        last = np.append(first[1:], total) - 1
        code_values = sorted_pooled[(first + last) // 2]
    sentinel = code_values.size  # sorts after every real code; pads short runs
    code_values = np.append(code_values, np.inf)
    # table[r, i] = code of sample i of run r; positions past a short run's end hold the sentinel.
    table = np.full((n_runs, n_max), sentinel, dtype=np.uint16)
    offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    for r, (off, size) in enumerate(zip(offsets, sizes, strict=True)):
        table[r, :size] = codes[off : off + size]
    flat_table = table.ravel()
    equal_sizes = bool((sizes == n_max).all())
    frac_q = np.asarray(qs, dtype=np.float64) / 100.0

    out = np.empty((n_boot, frac_q.size), dtype=np.float64)
    chunk = max(1, _CHUNK_ELEMENTS // (n_runs * n_max))
    done = 0
    while done < n_boot:
        rows = min(chunk, n_boot - done)
        chosen = rng.integers(0, n_runs, size=(rows, n_runs)) if picks is None else picks[done : done + rows]
        chosen_sizes = sizes[chosen]  # (rows, n_runs)
        base_index = (chosen.astype(np.int32) * n_max)[:, :, None]
        if equal_sizes:
            ranks = flat_table[base_index + rng.integers(0, n_max, size=(rows, n_runs, n_max), dtype=np.int32)]
        else:
            # Draw within each chosen run's own size; slots beyond it become the sentinel rank.
            high = chosen_sizes[:, :, None].astype(np.int32)
            ranks = flat_table[base_index + rng.integers(0, high, size=(rows, n_runs, n_max), dtype=np.int32)]
            ranks[np.arange(n_max)[None, None, :] >= high] = sentinel
        ranks = ranks.reshape(rows, n_runs * n_max)
        ranks.sort(axis=1, kind="stable")
        counts = chosen_sizes.sum(axis=1)  # real samples per replicate
        h = (counts[:, None] - 1) * frac_q[None, :]
        lo = np.floor(h).astype(np.int64)
        hi = np.minimum(lo + 1, counts[:, None] - 1)
        frac = h - lo
        row_idx = np.arange(rows)[:, None]
        v_lo = code_values[ranks[row_idx, lo]]
        v_hi = code_values[ranks[row_idx, hi]]
        out[done : done + rows] = v_lo + (v_hi - v_lo) * frac
        done += rows
    return out


def _single_sample_quantiles(arr: np.ndarray, qs: Sequence[float], n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap replicates of linear-interpolated quantiles of one sample, shape (n_boot, len(qs)), in O(n_boot).

    A resample is x_(ceil(n*U_i)) for uniform U_i, so its k-th order statistic is x_(ceil(n*U_(k))) with
    U_(k) ~ Beta(k, n-k+1), and U_(k+1) = U_(k) + (1-U_(k)) * Beta(1, n-k). Drawing those two directly gives the
    exact bootstrap distribution of the quantile without materialising any resample.
    """
    x = np.sort(arr)
    n = x.size
    out = np.empty((n_boot, len(qs)), dtype=np.float64)
    for j, q in enumerate(qs):
        h = (n - 1) * q / 100.0
        k = math.floor(h) + 1  # 1-based order statistic below the quantile
        frac = h - (k - 1)
        if n == 1:
            out[:, j] = x[0]
            continue
        u_k = rng.beta(k, n - k + 1, size=n_boot)
        u_next = u_k + (1.0 - u_k) * rng.beta(1, n - k, size=n_boot) if k < n else u_k
        i_k = np.clip(np.ceil(n * u_k).astype(np.int64) - 1, 0, n - 1)
        i_next = np.clip(np.ceil(n * u_next).astype(np.int64) - 1, 0, n - 1)
        out[:, j] = x[i_k] + (x[i_next] - x[i_k]) * frac
    return out


def summarize(samples: Sequence[float], *, n_boot: int = 2000, seed: int = 0) -> dict[str, float | int | list[float]]:
    """Descriptive statistics of one case's raw samples, plus bootstrap 95% CIs of p50 and p95.

    `mad` is the raw median absolute deviation (not scaled by 1.4826). Outliers use Tukey's fences:
    `outliers_low` / `outliers_high` beyond 1.5 IQR, `outliers_far` beyond 3 IQR on either side.
    """
    arr = _as_array(samples)
    _check_boot(n_boot, 0.95)
    q1, p50, q3, p90, p95, p99 = np.percentile(arr, [25, 50, 75, 90, 95, 99])
    iqr = q3 - q1
    reps = _single_sample_quantiles(arr, [50.0, 95.0], n_boot, np.random.default_rng(seed))
    return {
        "n": int(arr.size),
        "min": float(arr.min()),
        "p50": float(p50),
        "p90": float(p90),
        "p95": float(p95),
        "p99": float(p99),
        "max": float(arr.max()),
        "mean": float(arr.mean()),
        "stdev": float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
        "iqr": float(iqr),
        "mad": float(np.median(np.abs(arr - p50))),
        "outliers_low": int((arr < q1 - 1.5 * iqr).sum()),
        "outliers_high": int((arr > q3 + 1.5 * iqr).sum()),
        "outliers_far": int(((arr < q1 - 3.0 * iqr) | (arr > q3 + 3.0 * iqr)).sum()),
        "p50_ci": list(_ci(reps[:, 0], 0.95)),
        "p95_ci": list(_ci(reps[:, 1], 0.95)),
    }


def cv(values: Sequence[float]) -> float:
    """Coefficient of variation (sample stdev / mean) of per-run medians; 0.0 for fewer than two values."""
    if len(values) < 2:
        return 0.0
    arr = _as_array(values, "values")
    mean = float(arr.mean())
    sd = float(arr.std(ddof=1))
    if sd == 0.0:
        return 0.0
    if mean <= 0.0:
        raise ValueError(f"coefficient of variation needs a positive mean, got mean={mean!r} of {arr.tolist()}")
    return sd / mean


def run_stability(per_run_samples: Sequence[Sequence[float]], cv_threshold: float) -> dict[str, Any]:
    """Per-run medians and their CV: the run, not the sample, is the unit of replication."""
    if not per_run_samples:
        raise ValueError("per_run_samples is empty: give one sample list per run")
    if cv_threshold < 0:
        raise ValueError(f"cv_threshold must be >= 0, got {cv_threshold!r}")
    medians = [float(np.median(_as_array(run, f"run {i + 1} samples"))) for i, run in enumerate(per_run_samples)]
    value = cv(medians)
    return {
        "runs": len(medians),
        "medians": medians,
        "cv": value,
        "cv_threshold": float(cv_threshold),
        "unstable": value > cv_threshold,
    }


def hierarchical_bootstrap_ratios(
    base_runs: Sequence[Sequence[float]],
    head_runs: Sequence[Sequence[float]],
    *,
    quantiles: Sequence[float] = (50.0,),
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[float, dict[str, Any]]:
    """Like `hierarchical_bootstrap_ratio` for several quantiles sharing one set of resamples (one sort)."""
    _check_boot(n_boot, confidence)
    for q in quantiles:
        _check_q(q)
    if not base_runs or not head_runs:
        raise ValueError("both base_runs and head_runs need at least one run of samples")
    base = [_as_array(r, f"base run {i + 1} samples") for i, r in enumerate(base_runs)]
    head = [_as_array(r, f"head run {i + 1} samples") for i, r in enumerate(head_runs)]
    base_pooled, head_pooled = np.concatenate(base), np.concatenate(head)
    rng = np.random.default_rng(seed)
    base_reps = _bootstrap_quantiles(base, quantiles, n_boot, rng)
    head_reps = _bootstrap_quantiles(head, quantiles, n_boot, rng)
    result: dict[float, dict[str, Any]] = {}
    for j, q in enumerate(quantiles):
        base_q = float(np.percentile(base_pooled, q))
        head_q = float(np.percentile(head_pooled, q))
        if base_q <= 0.0 or (base_reps[:, j] <= 0.0).any():
            raise ValueError(f"the base p{q:g} is not positive ({base_q!r}); a latency ratio needs positive samples")
        result[float(q)] = {
            "quantile": float(q),
            "ratio": head_q / base_q,
            "ci": list(_ci(head_reps[:, j] / base_reps[:, j], confidence)),
            "base": base_q,
            "head": head_q,
            "n_boot": n_boot,
            "confidence": confidence,
        }
    return result


def hierarchical_bootstrap_ratio(
    base_runs: Sequence[Sequence[float]],
    head_runs: Sequence[Sequence[float]],
    *,
    quantile: float = 50,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Ratio head/base of a pooled quantile with a hierarchical-bootstrap CI (resample runs, then samples).

    Returns {"ratio", "ci": [lo, hi], "base", "head", ...}; ratio > 1 means head is slower for latencies.
    """
    if math.isnan(quantile):
        raise ValueError("quantile must be a number within [0, 100], got nan")
    res = hierarchical_bootstrap_ratios(
        base_runs, head_runs, quantiles=(float(quantile),), n_boot=n_boot, seed=seed, confidence=confidence
    )
    return res[float(quantile)]


def paired_block_bootstrap_ratio(
    base_blocks: Sequence[Sequence[float]],
    head_blocks: Sequence[Sequence[float]],
    *,
    quantile: float = 50,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Ratio head/base of a pooled quantile for blocks measured in pairs (block i of each side back to back), with
    a bootstrap CI that resamples the pairs together, then the samples within each block.

    Drift between pairs (a machine slowing down for a while) then moves both sides of a replicate alike and cancels
    out of the ratio, which is what alternating the blocks is for; resampling each side's blocks independently
    (hierarchical_bootstrap_ratio) would count that drift as uncertainty of the ratio.
    """
    _check_boot(n_boot, confidence)
    _check_q(quantile)
    if not base_blocks or len(base_blocks) != len(head_blocks):
        raise ValueError(
            f"paired blocks: need the same positive number of blocks on both sides, got {len(base_blocks)} "
            f"and {len(head_blocks)}"
        )
    base = [_as_array(b, f"base block {i + 1} samples") for i, b in enumerate(base_blocks)]
    head = [_as_array(h, f"head block {i + 1} samples") for i, h in enumerate(head_blocks)]
    base_q = float(np.percentile(np.concatenate(base), quantile))
    if base_q <= 0.0:
        raise ValueError(f"the base p{quantile:g} is not positive ({base_q!r}); a latency ratio needs positive samples")
    rng = np.random.default_rng(seed)
    n = len(base)
    picks = rng.integers(0, n, (n_boot, n))
    reps = _bootstrap_quantiles(head, (quantile,), n_boot, rng, picks)[:, 0]
    reps = reps / _bootstrap_quantiles(base, (quantile,), n_boot, rng, picks)[:, 0]
    head_q = float(np.percentile(np.concatenate(head), quantile))
    return {
        "quantile": float(quantile),
        "ratio": head_q / base_q,
        "ci": list(_ci(reps, confidence)),
        "base": base_q,
        "head": head_q,
        "n_boot": n_boot,
        "confidence": confidence,
        "pairs": n,
    }


# ------------------------------------------------------------------------ replicate-level ratios (A/B and runs)

#: Fewer replicates than this give no interval: a ratio from one or two blocks says nothing about its spread.
MIN_REPLICATES = 3


def paired_log_ratios(
    base_blocks: Sequence[Sequence[float]], head_blocks: Sequence[Sequence[float]], quantile: float = 50.0
) -> list[float]:
    """log(q(head block i) / q(base block i)) per pair of blocks measured back to back."""
    _check_q(quantile)
    if len(base_blocks) != len(head_blocks) or not base_blocks:
        raise ValueError(
            f"paired blocks: need the same positive number on both sides, got {len(base_blocks)} and {len(head_blocks)}"
        )
    out = []
    for i, (b, h) in enumerate(zip(base_blocks, head_blocks, strict=True)):
        qb = float(np.percentile(_as_array(b, f"base block {i + 1} samples"), quantile))
        qh = float(np.percentile(_as_array(h, f"head block {i + 1} samples"), quantile))
        if qb <= 0.0 or qh <= 0.0:
            raise ValueError(f"block {i + 1}: a latency ratio needs positive quantiles, got {qb!r} and {qh!r}")
        out.append(math.log(qh / qb))
    return out


def _no_interval(ratio: float, n: int, why: str) -> dict[str, Any]:
    return {"ratio": ratio, "ci": None, "se_log": None, "replicates": n, "why_no_ci": why}


def hodges_lehmann(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """The Hodges-Lehmann location estimate along `axis`: the median of all pairwise means (Walsh averages).

    As efficient as the mean on normal data (95%), yet one wild value among ten moves it little; numpy's
    vectorised form so a bootstrap can resample many sets at once (scipy passes `axis`)."""
    x = np.moveaxis(np.asarray(values, dtype=float), axis, -1)
    i, j = np.triu_indices(x.shape[-1])
    return np.asarray(np.median((x[..., i] + x[..., j]) / 2.0, axis=-1))


def block_ratio(
    log_ratios: Sequence[float], *, confidence: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> dict[str, Any]:
    """The ratio of paired blocks (exp of the Hodges-Lehmann estimate of their log ratios) with a BCa bootstrap CI
    over the blocks.

    The block, not the sample, is the unit of replication: drift between blocks moves both sides of a pair alike
    and cancels, and what is left is the spread of the pairs themselves. That spread has heavy tails on a shared
    host (a block now and then lands in a disturbance on one side only, docs/findings/placement.md), which would
    drag a mean and widen its interval; the Hodges-Lehmann estimate holds against them. `se_log` is the bootstrap
    standard error of the log estimate (what the minimum detectable effect is computed from); `ci` is None below
    MIN_REPLICATES blocks."""
    _check_boot(n_boot, confidence)
    values = _as_array(log_ratios, "log ratios")
    n = int(values.size)
    ratio = math.exp(float(hodges_lehmann(values)))
    if n < MIN_REPLICATES:
        return _no_interval(ratio, n, f"{n} block(s); an interval needs at least {MIN_REPLICATES}")
    if float(values.std()) == 0.0:
        return {"ratio": ratio, "ci": [ratio, ratio], "se_log": 0.0, "replicates": n}
    result = scipy_stats.bootstrap(
        (values,),
        hodges_lehmann,
        vectorized=True,
        confidence_level=confidence,
        n_resamples=n_boot,
        method="BCa",
        random_state=seed,
    )
    lo, hi = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if not (math.isfinite(lo) and math.isfinite(hi)):  # BCa undefined (e.g. all but one value equal): percentile
        boots = hodges_lehmann(values[np.random.default_rng(seed).integers(0, n, size=(n_boot, n))], axis=-1)
        lo, hi = (float(v) for v in np.percentile(boots, [50 * (1 - confidence), 100 - 50 * (1 - confidence)]))
    se = float(result.standard_error)
    return {"ratio": ratio, "ci": [math.exp(lo), math.exp(hi)], "se_log": se, "replicates": n}


def run_ratio(
    base_values: Sequence[float], head_values: Sequence[float], *, confidence: float = 0.95
) -> dict[str, Any]:
    """The ratio of two sides' geometric means over unpaired replicates (runs taken at different times), with a
    Welch t-interval on the logs: the run is the unit of replication, and few runs give an honestly wide interval."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")
    base = np.log(_as_array(base_values, "base values"))
    head = np.log(_as_array(head_values, "head values"))
    ratio = math.exp(float(head.mean() - base.mean()))
    n = min(base.size, head.size)
    if n < 2:
        return _no_interval(ratio, int(n), "one run on a side; an interval needs at least two on each")
    vb, vh = float(base.var(ddof=1)) / base.size, float(head.var(ddof=1)) / head.size
    se = math.sqrt(vb + vh)
    if se == 0.0:
        return {"ratio": ratio, "ci": [ratio, ratio], "se_log": 0.0, "replicates": int(n)}
    df = (vb + vh) ** 2 / ((vb**2 / (base.size - 1) if vb else 0.0) + (vh**2 / (head.size - 1) if vh else 0.0))
    half = float(scipy_stats.t.ppf(0.5 + confidence / 2, df)) * se
    log_ratio = math.log(ratio)
    return {
        "ratio": ratio,
        "ci": [math.exp(log_ratio - half), math.exp(log_ratio + half)],
        "se_log": se,
        "replicates": int(n),
    }


def minimum_detectable_effect(
    se_log: float | None, noise: float, *, confidence: float = 0.95, power: float = 0.8
) -> float | None:
    """The smallest slowdown (as a fraction, 0.10 = 10%) this precision finds as "regressed" with `power`: its CI
    must exclude 1 and it must exceed the noise threshold. None when the precision is unknown."""
    if se_log is None:
        return None
    z = float(scipy_stats.norm.ppf(0.5 + confidence / 2) + scipy_stats.norm.ppf(power))
    return max(noise, math.exp(z * se_log) - 1.0)


def hierarchical_quantile_ci(
    runs: Sequence[Sequence[float]],
    quantile: float = 50.0,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> list[float]:
    """CI of a pooled quantile resampling runs, then samples within them: a baseline's interval reflects how much
    its runs differ, not just how many samples it has."""
    _check_boot(n_boot, confidence)
    _check_q(quantile)
    arrays = [_as_array(r, f"run {i + 1} samples") for i, r in enumerate(runs)]
    if not arrays:
        raise ValueError("runs is empty: give one sample list per run")
    reps = _bootstrap_quantiles(arrays, (quantile,), n_boot, np.random.default_rng(seed))[:, 0]
    return list(_ci(reps, confidence))
