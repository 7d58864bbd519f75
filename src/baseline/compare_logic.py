"""Pure compare logic: verdicts per case, per-profile comparisons and the refactor plan's gates.

Latency ratios are head/base, so a ratio above 1 is a slowdown. A change counts only when its CI excludes 1 AND
its size exceeds the noise threshold; gates fail only on such significant changes, so an A/A comparison passes.
The replicate is the unit of uncertainty: for two stored baselines the run (a hierarchical bootstrap over runs,
then samples), for an A/B the pair of blocks measured back to back (a bootstrap over the pairs' log ratios).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from baseline import stats
from baseline.profiling import hotpaths
from baseline.profiling.diff import diff_profiles, self_counts, two_proportion_z
from baseline.profiling.folded import merge

__all__ = [
    "GATE_NAMES",
    "VERDICTS",
    "Criteria",
    "calibration_kind",
    "compare_case",
    "compare_profile",
    "evaluate_gates",
    "function_verdicts",
    "gate_kind",
    "host_drift",
    "verdict",
]

#: The host's floor: cases that run no code of the system under test (PostgreSQL and the machine only).
HOST_FLOOR_CASES = (
    "sql/calibrate/select_1",
    "sql/calibrate/select_1_after_idle",
    "sql/calibrate/cpu_loop",
    "event/calibrate/bare_notify",
)
#: The harness's own overhead: a statement timed through the sampler and in a bare loop (it runs target code).
HARNESS_OVERHEAD_PREFIXES = ("sql/calibrate/harness/", "sql/calibrate/bare_psycopg/", "event/calibrate/harness_notify")

VERDICTS = ("improved", "unchanged", "regressed", "inconclusive")
#: Case id prefix -> gate it feeds. event/ cases are reported but gate nothing (the plan sets no event criterion).
_PREFIX_GATES = {
    "sql/": "sql",
    "e2e/": "e2e",
    "task_init/": "lifecycle",
    "orchestration/": "lifecycle",
    "worker/": "lifecycle",
    "event/": None,
}
GATE_NAMES = (
    "e2e_within_max_ratio",
    "e2e_hard_regression",
    "sql_unchanged",
    "lifecycle_within_max_ratio",
    "no_new_hot_paths",
    "message_passing_share",
)


@dataclass(frozen=True)
class Criteria:
    """Gate thresholds; defaults are the refactor plan's success criteria and regression signals."""

    e2e_max_ratio: float = 1.10
    e2e_hard_ratio: float = 1.20
    sql_noise: float = 0.05
    lifecycle_max_ratio: float = 1.20
    new_hot_path_share: float = 0.05
    message_passing_max_share: float = 0.05
    noise: float = 0.05
    cv_threshold: float = 0.10

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(f"criteria.{f.name} must be a finite number, got {value!r}")
        for name in ("e2e_max_ratio", "e2e_hard_ratio", "lifecycle_max_ratio"):
            if getattr(self, name) < 1.0:
                raise ValueError(f"criteria.{name} is a head/base ratio limit and must be >= 1.0 (1.10 = 10% slower)")
        for name in ("sql_noise", "noise", "new_hot_path_share", "message_passing_max_share", "cv_threshold"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"criteria.{name} is a fraction and must be within [0, 1) (0.05 = 5%)")
        if self.e2e_hard_ratio < self.e2e_max_ratio:
            raise ValueError("criteria.e2e_hard_ratio must be >= criteria.e2e_max_ratio")

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any]) -> Criteria:
        """Build from `[tool.baseline.criteria]`; keys may use '-' or '_'. Unknown keys and non-numbers fail."""
        if not isinstance(d, Mapping):
            raise ValueError(f"[tool.baseline.criteria] must be a table of numbers, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, float] = {}
        for raw_key, value in d.items():
            key = str(raw_key).replace("-", "_")
            if key not in known:
                raise ValueError(
                    f"unknown criteria key {raw_key!r} in [tool.baseline.criteria]; "
                    f"known keys: {', '.join(sorted(known))}"
                )
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ValueError(f"criteria key {raw_key!r} must be a number, got {type(value).__name__} {value!r}")
            values[key] = float(value)
        return cls(**values)


def verdict(ratio: float, ci: tuple[float, float] | Sequence[float] | None, noise: float) -> str:
    """improved / regressed when the CI excludes 1 and |ratio-1| > noise; unchanged when the whole CI lies within
    [1-noise, 1+noise]; inconclusive otherwise (also when there is no CI: too few replicates)."""
    if ci is None:
        if not math.isfinite(ratio):
            raise ValueError(f"ratio must be a finite number, got {ratio!r}")
        return "inconclusive"
    lo, hi = float(ci[0]), float(ci[1])
    if not all(math.isfinite(v) for v in (ratio, lo, hi)):
        raise ValueError(f"ratio and CI must be finite numbers, got ratio={ratio!r}, ci={list(ci)!r}")
    if lo > hi:
        raise ValueError(f"CI lower bound {lo!r} is above its upper bound {hi!r}")
    if not 0.0 <= noise < 1.0:
        raise ValueError(f"noise must be a fraction within [0, 1), got {noise!r}")
    if (lo > 1.0 or hi < 1.0) and abs(ratio - 1.0) > noise:
        return "regressed" if ratio > 1.0 else "improved"
    if 1.0 - noise <= lo and hi <= 1.0 + noise:
        return "unchanged"
    return "inconclusive"


def gate_kind(case_id: str) -> str | None:
    """Which gate a case feeds, from its id prefix; calibration cases (harness overhead) feed none."""
    if is_calibration(case_id):
        return None
    for prefix, gate in _PREFIX_GATES.items():
        if case_id.startswith(prefix):
            return gate
    return None


def is_calibration(case_id: str) -> bool:
    """A calibration case measures the harness and the host (SELECT 1, a bare NOTIFY loop, GET /health), not code."""
    return any(part.startswith("calibrate") for part in case_id.split("/"))


def calibration_kind(case_id: str) -> str | None:
    """`host` (no code of the system under test runs), `harness` (the harness's own overhead, over target code),
    `http` (the target's HTTP floor, GET /health: its own code), or None for a case that is not calibration."""
    if case_id in HOST_FLOOR_CASES:
        return "host"
    if case_id.startswith(HARNESS_OVERHEAD_PREFIXES):
        return "harness"
    return "http" if is_calibration(case_id) else None


def host_drift(cases: Sequence[Mapping[str, Any]]) -> list[str]:
    """The host-floor cases whose p50 moved beyond noise between base and head, one line each.

    They run no code of the system under test, so a move means the machine changed speed between the two
    baselines, and the same factor sits inside every other latency ratio of the comparison: on a shared VM the
    wake-up cost alone can change E2E by a third within an hour (docs/findings/engine.md).
    """
    lines = []
    for case in cases:
        if calibration_kind(case["id"]) != "host" or case["verdict"] not in ("regressed", "improved"):
            continue
        side = "slower" if case["verdict"] == "regressed" else "faster"
        lines.append(f"{case['id']}: {side} on head, p50 x{_fmt(case['p50'])}")
    return lines


def _replicate_medians(runs: Sequence[Sequence[float]]) -> list[float]:
    return [stats.percentile(run, 50) for run in runs]


def _interval_advice(entry: Mapping[str, Any], noise: float, replicates: int, unit: str) -> str | None:
    """What would make an inconclusive ratio conclusive: how many replicates would narrow its CI into the band."""
    if entry["verdict"] != "inconclusive":
        return None
    if entry.get("ci") is None:
        return f"{entry.get('why_no_ci', 'no interval')}: measure more {unit}s"
    se = entry.get("se_log")
    if not se:
        return None
    target = math.log1p(noise) / 2.5  # a CI about half the noise band wide, so that "unchanged" can be shown
    needed = math.ceil(replicates * (se / target) ** 2) if target > 0 else replicates
    if needed <= replicates:
        return f"the ratio sits at the edge of the ±{noise:.0%} band; more {unit}s would settle it"
    return f"CI wider than the ±{noise:.0%} noise band; about {needed} {unit}s (now {replicates}) would narrow it"


def compare_case(
    case_id: str,
    base_runs: Sequence[Sequence[float]],
    head_runs: Sequence[Sequence[float]],
    *,
    criteria: Criteria,
    seed: int = 0,
    n_boot: int = 2000,
    paired: bool = False,
) -> dict[str, Any]:
    """p50 and p95 ratios with CIs and verdicts, the minimum detectable effect, and the stability of both sides.

    Unpaired (two stored baselines): a hierarchical bootstrap over runs, then samples. `paired` (an A/B, replicate i
    of each side measured back to back): a BCa bootstrap over the pairs' log ratios. The case verdict is the p50
    verdict; SQL cases use `criteria.sql_noise`, the rest `criteria.noise`.
    """
    kind = gate_kind(case_id)
    noise = criteria.sql_noise if kind == "sql" else criteria.noise
    if paired:
        p50 = stats.block_ratio(stats.paired_log_ratios(base_runs, head_runs, 50.0), n_boot=n_boot, seed=seed)
        p95 = stats.block_ratio(stats.paired_log_ratios(base_runs, head_runs, 95.0), n_boot=n_boot, seed=seed)
        for entry, q in ((p50, 50.0), (p95, 95.0)):
            entry["base"] = stats.percentile([x for run in base_runs for x in run], q)
            entry["head"] = stats.percentile([x for run in head_runs for x in run], q)
        unit = "block"
    else:
        ratios = stats.hierarchical_bootstrap_ratios(
            base_runs, head_runs, quantiles=(50.0, 95.0), n_boot=n_boot, seed=seed
        )
        p50, p95 = ratios[50.0], ratios[95.0]
        for entry in (p50, p95):
            lo, hi = entry["ci"]
            entry["se_log"] = (math.log(hi) - math.log(lo)) / (2 * 1.96) if lo > 0 and hi > 0 else None
        unit = "run"
    replicates = min(len(base_runs), len(head_runs))
    for entry in (p50, p95):
        entry["verdict"] = verdict(entry["ratio"], entry["ci"], noise)
        entry["mde"] = stats.minimum_detectable_effect(entry.get("se_log"), noise)
    base_stab = stats.run_stability(base_runs, criteria.cv_threshold)
    head_stab = stats.run_stability(head_runs, criteria.cv_threshold)
    return {
        "id": case_id,
        "gate": kind,
        "calibration": calibration_kind(case_id),
        "noise": noise,
        "p50": p50,
        "p95": p95,
        "verdict": p50["verdict"],
        "mde": p50["mde"],
        "advice": _interval_advice(p50, noise, replicates, unit),
        "replicate": unit,
        "base_runs": len(base_runs),
        "head_runs": len(head_runs),
        "base_medians": _replicate_medians(base_runs),
        "head_medians": _replicate_medians(head_runs),
        "base_stability": base_stab,
        "head_stability": head_stab,
        "unstable": bool(base_stab["unstable"] or head_stab["unstable"]),
    }


def function_of(case_id: str) -> str:
    """The SQL function a case times: `sql/<function>/<subject>`."""
    parts = case_id.split("/")
    return parts[1] if len(parts) > 2 else case_id


def function_verdicts(
    cases: Sequence[Mapping[str, Any]], criteria: Criteria, *, alpha: float = 0.05
) -> list[dict[str, Any]]:
    """One verdict per SQL function, its cases combined (the geometric mean of their medians per replicate), with
    the family-wise false-alarm rate held at `alpha` across the functions (Bonferroni: each CI at 1 - alpha/k).

    Paired replicates (blocks): a bootstrap over the blocks' mean log ratio; unpaired (runs): a Welch interval on the
    runs' log means. Judging functions, not ~30 single cases, is what keeps an A/A from failing on one of them."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for case in cases:
        if case.get("gate", gate_kind(case["id"])) == "sql":
            groups.setdefault(function_of(case["id"]), []).append(case)
    if not groups:
        return []
    confidence = 1.0 - alpha / len(groups)
    out = []
    for function, members in groups.items():
        n = min(min(len(c["base_medians"]), len(c["head_medians"])) for c in members)
        base = [sum(math.log(c["base_medians"][i]) for c in members) / len(members) for i in range(n)]
        head = [sum(math.log(c["head_medians"][i]) for c in members) / len(members) for i in range(n)]
        if members[0].get("replicate") == "block":
            entry = stats.block_ratio([h - b for b, h in zip(base, head, strict=True)], confidence=confidence)
        else:
            entry = stats.run_ratio([math.exp(v) for v in base], [math.exp(v) for v in head], confidence=confidence)
        out.append(
            {
                "function": function,
                "cases": [c["id"] for c in members],
                "ratio": entry["ratio"],
                "ci": entry["ci"],
                "confidence": confidence,
                "verdict": verdict(entry["ratio"], entry["ci"], criteria.sql_noise),
                "mde": stats.minimum_detectable_effect(entry.get("se_log"), criteria.sql_noise, confidence=confidence),
            }
        )
    return out


def compare_profile(
    name: str,
    base_runs: Sequence[Mapping[str, int]],
    head_runs: Sequence[Mapping[str, int]],
    *,
    criteria: Criteria,
    alpha: float = 0.05,
    min_module_samples: int = 100,
    modules: Sequence[str] = (),
    message_passing_patterns: Sequence[str] = hotpaths.MESSAGE_PASSING_PATTERNS,
    paired: bool = False,
) -> dict[str, Any]:
    """Compare one profile (e.g. `lifecycle`, `e2e-worker-1`) across the runs (or A/B blocks) of two sides.

    Runs are merged per side. At a fixed sampling rate the samples per run measure time, so `total_ratio`
    (mean samples per run, head/base) is the profile's time ratio and `module_ratios` the time ratio of each of
    the target's lifecycle `modules` with at least `min_module_samples` merged base samples. `kind` is "lifecycle" for
    profiles whose name starts with "lifecycle" (they feed the lifecycle gate).
    New hot paths are judged on the shares of working samples (idle waits left out: a service idle 90% of the time
    would otherwise hide its work), only with MIN_WORKING_SAMPLES on each side, and only when the growth reproduces
    across the replicates (`_reproduced`).
    """
    if not base_runs or not head_runs:
        raise ValueError(f"profile {name!r}: both sides need at least one run's folded stacks")
    base, head = merge(*base_runs), merge(*head_runs)
    base_hot = hotpaths.analyze(
        base, threshold=criteria.new_hot_path_share, modules=modules, message_passing_patterns=message_passing_patterns
    )
    head_hot = hotpaths.analyze(
        head, threshold=criteria.new_hot_path_share, modules=modules, message_passing_patterns=message_passing_patterns
    )
    base_total, head_total = base_hot["total_samples"], head_hot["total_samples"]
    base_per_run, head_per_run = base_total / len(base_runs), head_total / len(head_runs)
    module_ratios: dict[str, float] = {}
    for mod in modules:
        b = base_hot["modules"][mod]["samples"]
        if b >= min_module_samples:
            module_ratios[mod] = (head_hot["modules"][mod]["samples"] / len(head_runs)) / (b / len(base_runs))
    mp_b, mp_h = base_hot["message_passing"]["samples"], head_hot["message_passing"]["samples"]
    mp_z, mp_p = two_proportion_z(mp_b, base_total, mp_h, head_total)
    # Profile samples are autocorrelated, so a z-test alone is over-confident: a change also has to reproduce in
    # the replicates (runs or block pairs), the unit of replication as for latencies.
    base_working = [hotpaths.working_stacks(r) for r in base_runs]
    head_working = [hotpaths.working_stacks(r) for r in head_runs]
    base_self = [self_counts(r) for r in base_working]
    head_self = [self_counts(r) for r in head_working]
    diff = diff_profiles(merge(*base_working), merge(*head_working), alpha=alpha, threshold=criteria.new_hot_path_share)
    working = (sum(t for _, t in base_self), sum(t for _, t in head_self))
    diff["working_samples"] = {"base": working[0], "head": working[1]}
    judged = min(working) >= MIN_WORKING_SAMPLES
    if not judged:
        diff["note"] = f"too few working samples ({min(working)} < {MIN_WORKING_SAMPLES}) to judge new hot paths"
    for hot in diff["new_hot_paths"]:
        hot["replicated"] = judged and _reproduced(
            _run_shares(base_self, hot["frame"]), _run_shares(head_self, hot["frame"]), paired=paired
        )

    def per_run(runs: Sequence[Mapping[str, int]]) -> list[dict[str, Any]]:
        return [hotpaths.analyze(r, modules=modules, message_passing_patterns=message_passing_patterns) for r in runs]

    base_each, head_each = per_run(base_runs), per_run(head_runs)
    mp_replicated = _reproduced(
        [a["message_passing"]["share"] for a in base_each],
        [a["message_passing"]["share"] for a in head_each],
        paired=paired,
    )
    modules_separated = {
        mod: _reproduced(
            [a["modules"][mod]["samples"] for a in base_each],
            [a["modules"][mod]["samples"] for a in head_each],
            paired=paired,
        )
        for mod in module_ratios
    }
    totals_separated = _reproduced(
        [a["total_samples"] for a in base_each], [a["total_samples"] for a in head_each], paired=paired
    )
    return {
        "name": name,
        "kind": "lifecycle" if name.startswith("lifecycle") else "service",
        "base_runs": len(base_runs),
        "head_runs": len(head_runs),
        "base_total": base_total,
        "head_total": head_total,
        "total_ratio": head_per_run / base_per_run,
        "module_ratios": module_ratios,
        "message_passing": {
            "base_share": base_hot["message_passing"]["share"],
            "head_share": head_hot["message_passing"]["share"],
            "z": mp_z,
            "p_value": mp_p,
            "significant_increase": mp_p < alpha and mp_z > 0 and mp_replicated,
            "replicated": mp_replicated,
        },
        "total_separated": totals_separated,
        "modules_separated": modules_separated,
        "base_hotpaths": base_hot,
        "head_hotpaths": head_hot,
        "diff": diff,
    }


def _run_shares(runs: Sequence[tuple[dict[str, int], int]], frame: str) -> list[float]:
    """The frame's self share in each replicate."""
    return [counts.get(frame, 0) / total for counts, total in runs if total]


#: Below this many working samples on a side, a profile's frame shares are too coarse to call a new hot path.
MIN_WORKING_SAMPLES = 300


def _separated(base: Sequence[float], head: Sequence[float]) -> bool:
    """Every head run above every base run; with fewer than two runs a side, replication cannot be judged."""
    if len(base) < 2 or len(head) < 2:
        return True
    return min(head) > max(base)


def _sign_test(base: Sequence[float], head: Sequence[float], alpha: float = 0.05) -> bool:
    """Head above base in so many block pairs that a coin would rarely do it (one-sided binomial test)."""
    n = min(len(base), len(head))
    above = sum(1 for b, h in zip(base, head, strict=False) if h > b)
    tail: float = sum(math.comb(n, k) for k in range(above, n + 1)) / 2**n
    return tail < alpha


def _reproduced(base: Sequence[float], head: Sequence[float], *, paired: bool) -> bool:
    """A growth shows in the replicates: block pairs by a sign test, unpaired runs each head above each base."""
    if paired and min(len(base), len(head)) >= 3:
        return _sign_test(base, head)
    return _separated(base, head)


def _gate(name: str, passed: bool, detail: str, *, hard: bool, evaluated: bool = True) -> dict[str, Any]:
    return {"name": name, "passed": passed, "detail": detail, "hard": hard, "evaluated": evaluated}


def _significantly_above(entry: Mapping[str, Any], limit: float) -> bool:
    """The point ratio is over the limit and the CI says head is slower at all (excludes 1)."""
    ci = entry.get("ci")
    return bool(ci is not None and entry["ratio"] > limit and ci[0] > 1.0)


def _fmt(entry: Mapping[str, Any]) -> str:
    ci = entry.get("ci")
    if ci is None:
        return f"{entry['ratio']:.3f} [no CI]"
    return f"{entry['ratio']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def _p50_ratio(case: dict[str, Any]) -> str:
    return f"{case['id']} p50 ratio {_fmt(case['p50'])}"


def _failing_or(what: str, failing: list[dict[str, Any]], otherwise: str) -> str:
    """A gate's detail: the failing cases after `what`, or `otherwise` when there are none."""
    return f"{what}: " + "; ".join(map(_p50_ratio, failing)) if failing else otherwise


def evaluate_gates(
    case_results: list[dict[str, Any]], profile_results: list[dict[str, Any]], criteria: Criteria
) -> dict[str, Any]:
    """Apply the plan's gates to `compare_case` and `compare_profile` results.

    Hard gates are the plan's regression signals (E2E > hard ratio, new hot paths, message passing); the others
    are its success criteria. A gate with nothing to judge passes with `evaluated: False`.
    """
    by_kind: dict[str, list[dict[str, Any]]] = {"e2e": [], "sql": [], "lifecycle": []}
    for case in case_results:
        kind = case.get("gate", gate_kind(case["id"]))
        if kind in by_kind:
            by_kind[kind].append(case)
    gates: list[dict[str, Any]] = []

    e2e = by_kind["e2e"]
    if e2e:
        over = [c for c in e2e if _significantly_above(c["p50"], criteria.e2e_max_ratio)]
        hard = [c for c in e2e if _significantly_above(c["p50"], criteria.e2e_hard_ratio)]
        worst = max(e2e, key=lambda c: c["p50"]["ratio"])
        gates.append(
            _gate(
                "e2e_within_max_ratio",
                not over,
                _failing_or(
                    "over the limit",
                    over,
                    f"{len(e2e)} cases within {criteria.e2e_max_ratio:.2f}x (worst {_p50_ratio(worst)})",
                ),
                hard=False,
            )
        )
        gates.append(
            _gate(
                "e2e_hard_regression",
                not hard,
                _failing_or("hard regression", hard, f"no E2E case slower than {criteria.e2e_hard_ratio:.2f}x"),
                hard=True,
            )
        )
    else:
        gates.append(_gate("e2e_within_max_ratio", True, "no E2E cases compared", hard=False, evaluated=False))
        gates.append(_gate("e2e_hard_regression", True, "no E2E cases compared", hard=True, evaluated=False))

    functions = function_verdicts(by_kind["sql"], criteria)
    if functions:
        regressed = [f for f in functions if f["verdict"] == "regressed"]
        confidence = functions[0]["confidence"]
        judged = (
            f"per function, {len(functions)} functions ({len(by_kind['sql'])} cases), each CI at {confidence:.1%} "
            f"(5% family-wise, Bonferroni)"
        )
        detail = (
            "regressed: " + "; ".join(f"{f['function']} x{_fmt(f)}" for f in regressed) + f" ({judged})"
            if regressed
            else f"no SQL function regressed beyond {criteria.sql_noise:.0%} noise ({judged})"
        )
        gates.append(_gate("sql_unchanged", not regressed, detail, hard=False))
    else:
        gates.append(_gate("sql_unchanged", True, "no SQL cases compared", hard=False, evaluated=False))

    lifecycle_fail: list[str] = []
    lifecycle_seen = 0
    for c in by_kind["lifecycle"]:
        lifecycle_seen += 1
        if _significantly_above(c["p50"], criteria.lifecycle_max_ratio):
            lifecycle_fail.append(_p50_ratio(c))
    for p in profile_results:
        if p.get("kind") != "lifecycle":
            continue
        lifecycle_seen += 1
        if p["total_ratio"] > criteria.lifecycle_max_ratio and p.get("total_separated", True):
            lifecycle_fail.append(f"profile {p['name']} total time ratio {p['total_ratio']:.3f}")
        for mod, ratio in sorted(p.get("module_ratios", {}).items()):
            if ratio > criteria.lifecycle_max_ratio and p.get("modules_separated", {}).get(mod, True):
                lifecycle_fail.append(f"profile {p['name']} module {mod} time ratio {ratio:.3f}")
    gates.append(
        _gate(
            "lifecycle_within_max_ratio",
            not lifecycle_fail,
            (
                "over the limit: " + "; ".join(lifecycle_fail)
                if lifecycle_fail
                else (
                    f"{lifecycle_seen} task_init cases / lifecycle profiles within {criteria.lifecycle_max_ratio:.2f}x"
                    if lifecycle_seen
                    else "no task_init cases or lifecycle profiles compared"
                )
            ),
            hard=False,
            evaluated=bool(lifecycle_seen),
        )
    )

    new_hot = [
        f"{p['name']}: {h['frame']} self {h['base_self_share']:.1%} -> {h['head_self_share']:.1%}"
        for p in profile_results
        for h in p["diff"]["new_hot_paths"]
        if h.get("replicated", True)
    ]
    gates.append(
        _gate(
            "no_new_hot_paths",
            not new_hot,
            (
                "new hot paths: " + "; ".join(new_hot)
                if new_hot
                else (
                    f"no frame grew past {criteria.new_hot_path_share:.0%} in {len(profile_results)} profiles"
                    if profile_results
                    else "no profiles compared"
                )
            ),
            hard=True,
            evaluated=bool(profile_results),
        )
    )

    mp_fail: list[str] = []
    mp_note: list[str] = []
    for p in profile_results:
        mp = p["message_passing"]
        if mp["head_share"] >= criteria.message_passing_max_share:
            text = f"{p['name']} {mp['base_share']:.1%} -> {mp['head_share']:.1%}"
            if mp["significant_increase"]:
                mp_fail.append(text)
            else:
                mp_note.append(text + " (not a significant increase over base)")
    detail = (
        "over the limit and grown: " + "; ".join(mp_fail)
        if mp_fail
        else f"message passing under {criteria.message_passing_max_share:.0%} or not grown"
        if profile_results
        else "no profiles compared"
    )
    if mp_note:
        detail += "; already at or above the limit in base: " + "; ".join(mp_note)
    gates.append(_gate("message_passing_share", not mp_fail, detail, hard=True, evaluated=bool(profile_results)))

    return {"passed": all(g["passed"] for g in gates), "gates": gates, "functions": functions}
