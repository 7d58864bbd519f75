"""The verdict check: on this machine, how often an A/B of identical code raises a false alarm, how often it finds a
slowdown injected on purpose (one SQL function server side, the E2E chain), and what each phase can detect.

The slowdowns are sized from the A/A runs' own figures and written into throwaway commits of the working tree's
HEAD (a worktree of their own, kept reachable under refs/baseline/), so the check measures exactly what an A/B of a
real change would.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from baseline import revisions, store, verdict_tally
from baseline.config import Config
from baseline.errors import BadInput
from baseline.pipeline.ab import ABRun
from baseline.revisions import Revision
from baseline.targets import load_target, revisable
from baseline.targets.contract import Injectable, Injection

SQL_SLOWDOWN = 0.10
E2E_SLOWDOWN = 0.15


def _injected_commit(
    root: Path, head: Revision, target: Injectable, kind: str, amount: float, measured: dict[str, float]
) -> tuple[Revision, Injection]:
    with tempfile.TemporaryDirectory(prefix="baseline-inject-") as tmp:
        work = revisions.checkout(root, head, Path(tmp) / "src")
        try:
            injection = target.inject(work, kind, amount, measured)
            revisions.git(
                work,
                "commit",
                "-q",
                "-am",
                f"verdict-check: {injection.description}",
                "--author",
                "baseline verdict-check <baseline@localhost>",
            )
            commit = revisions.git(work, "rev-parse", "HEAD")
            revisions.git(root, "update-ref", f"refs/baseline/inject-{kind}-{commit[:12]}", commit)
        finally:
            revisions.git(root, "worktree", "remove", "--force", str(work))
    return Revision(
        ref=f"{head.short}+{kind}", commit=commit, subject=injection.description, repository=str(root)
    ), injection


KINDS = ("aa", "sql", "e2e")


def verdict_check(
    config: Config,
    *,
    repeats: int,
    cli_values: dict[str, Any],
    console: Console,
    kinds: tuple[str, ...] = KINDS,
    first_seed: int = 0,
) -> dict[str, Any]:
    """`repeats` quick A/B runs of each kind (A/A, then each slowdown); writes profiles/verdict-check/<time>/ and
    returns the tally. The runs' block orders are drawn from `first_seed` on, so a second check adds new draws."""
    if repeats < 1:
        raise BadInput(f"--repeats {repeats}: give at least 1")
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown or not kinds:
        raise BadInput(f"--kinds {','.join(kinds)}: choose from {', '.join(KINDS)}")
    if "aa" not in kinds:
        raise BadInput(f"--kinds {','.join(kinds)}: the slowdowns are sized from the A/A runs' figures; include aa")
    target = load_target(config.target)
    revisable(target, config.target)
    if not isinstance(target, Injectable):
        raise BadInput(f"target {config.target!r} cannot inject slowdowns (baseline.targets.contract.Injectable)")
    root = config.project_root
    head = revisions.resolve(root, "HEAD")
    started, started_at = time.monotonic(), store.now_iso()
    if not config.quick:
        raise BadInput("the verdict check measures the quick A/B: load its config with quick (--quick)")
    quick = config
    records: dict[str, list[dict[str, Any]]] = {"aa": [], "sql": [], "e2e": []}
    measured: dict[str, float] = {}

    def ab(base: str, head_ref: str, seed: int, kind: str, function: str | None) -> None:
        began = time.monotonic()
        verdict, _ = ABRun(
            quick, base_ref=base, head_ref=head_ref, cli_values=cli_values, verbose=False, console=console, seed=seed
        ).run()
        record = verdict_tally.run_record(verdict, function=function, seconds=time.monotonic() - began)
        records[kind].append(record)
        console.print(
            f"[{kind} {len(records[kind])}/{repeats}] "
            + ("passed" if record["passed"] else f"FAILED {record['failed_gates']}")
            + f" in {record['seconds']:.0f} s",
            markup=False,
        )
        if not measured:
            measured.update({c["id"]: float(c["p50"]["base"]) for c in verdict["cases"] if c["p50"].get("base")})

    for i in range(repeats):
        ab(head.commit, head.commit, first_seed + i, "aa", None)
    injections: list[str] = []
    function: str | None = None
    for kind, amount in (("sql", SQL_SLOWDOWN), ("e2e", E2E_SLOWDOWN)):
        if kind not in kinds:
            continue
        slowed, injection = _injected_commit(root, head, target, kind, amount, measured)
        injections.append(f"{kind}: {injection.description} ({slowed.commit[:12]})")
        function = function or injection.function
        for i in range(repeats):
            ab(head.commit, slowed.commit, 100 + first_seed + i, kind, injection.function)
    result = {
        "started_at": started_at,
        "minutes": (time.monotonic() - started) / 60,
        "repeats": repeats,
        "kinds": list(kinds),
        "first_seed": first_seed,
        "revision": head.short,
        "function": function,
        "sql_amount": SQL_SLOWDOWN,
        "e2e_amount": E2E_SLOWDOWN,
        "injections": injections,
        "runs": records,
        "tally": verdict_tally.tally(records, function=function),
    }
    folder = config.output_dir / "verdict-check" / started_at.replace(":", "").replace("+", "Z")[:17]
    store.write_json_atomic(folder / "result.json", result)
    store.write_text_atomic(folder / "report.md", verdict_tally.render_markdown(result))
    result["output"] = str(folder)
    return result
