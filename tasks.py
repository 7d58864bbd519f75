"""invoke tasks: compositions of the nox sessions, nothing more (every rule lives in the harness they run).

invoke baseline --label pre-refactor            three fresh-stack runs of every phase, then the summary
invoke baseline --label L --only-run 2          redo run 2 only; the other runs are kept
invoke profile-all --label L --quick            flamegraphs of every phase, then a table of them
invoke compare --base pre-refactor --head post-refactor
"""

from __future__ import annotations

import shlex
import sys

from invoke import Context, Exit, task

COMMON = {
    "label": "folder under profiles/ (default adhoc)",
    "quick": "small samples and dataset: a smoke test, not a baseline",
    "services": "embedded (default), external or compose",
    "dsn": "DSN of the run database (external services)",
    "api_url": "API base URL (external services)",
    "scale": "dataset size in tasks",
    "seed": "dataset RNG seed",
    "verbose": "show every phase process's own output",
}


def _options(**values: object) -> list[str]:
    """`--flag value` for every option given (True flags alone), in the harness's spelling."""
    out: list[str] = []
    for name, value in values.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            out.append(flag)
        elif value not in (None, False, ""):
            out += [flag, str(value)]
    return out


def _session(c: Context, session: str, args: list[str]) -> None:
    """`nox -s SESSION -- ARGS`, on a terminal when there is one (live progress), its exit code passed on."""
    command = f"nox -s {session}" + (" -- " + shlex.join(args) if args else "")
    result = c.run(command, warn=True, pty=sys.stdout.isatty())
    if result is not None and not result.ok:
        raise Exit(code=result.exited)


@task(
    help={
        **COMMON,
        "runs": "independent runs (the unit of replication; default 3)",
        "only_run": "redo this run only and re-summarize",
        "no_profile": "no py-spy pass over the services during E2E",
    }
)
def baseline(
    c: Context,
    label: str = "adhoc",
    runs: str | None = None,
    only_run: str | None = None,
    quick: bool = False,
    no_profile: bool = False,
    services: str | None = None,
    dsn: str | None = None,
    api_url: str | None = None,
    scale: str | None = None,
    seed: str | None = None,
    verbose: bool = False,
) -> None:
    """Clean build, then N runs of every phase on fresh services and a fresh database, then the summary."""
    _session(
        c,
        "baseline",
        _options(
            label=label,
            runs=runs,
            only_run=only_run,
            quick=quick,
            no_profile=no_profile,
            services=services,
            dsn=dsn,
            api_url=api_url,
            scale=scale,
            seed=seed,
            verbose=verbose,
        ),
    )


@task(help=COMMON)
def profile_all(
    c: Context,
    label: str = "adhoc",
    quick: bool = False,
    services: str | None = None,
    dsn: str | None = None,
    api_url: str | None = None,
    scale: str | None = None,
    seed: str | None = None,
    verbose: bool = False,
) -> None:
    """Every profiling phase (SQL bench, E2E with every service, lifecycle tests), then a table of them."""
    _session(
        c,
        "profile_all",
        _options(
            label=label,
            quick=quick,
            services=services,
            dsn=dsn,
            api_url=api_url,
            scale=scale,
            seed=seed,
            verbose=verbose,
        ),
    )


@task(
    help={
        "base": "base revision (default: the merge base with the default branch)",
        "head": "head revision (default: the working tree, uncommitted changes included)",
        "quick": "small sizes: what CI gates on",
        "blocks": "blocks per phase (default 10, quick 6)",
        "blocks_per_stack": "blocks of every phase between fresh starts of both stacks (default 1)",
        "verbose": "show every phase process's own output",
    }
)
def ab(
    c: Context,
    base: str | None = None,
    head: str | None = None,
    quick: bool = False,
    blocks: str | None = None,
    blocks_per_stack: str | None = None,
    verbose: bool = False,
) -> None:
    """Two revisions measured in the same minutes, blocks alternating; exits 0 (gates hold), 1 or 2."""
    options = _options(
        base=base, head=head, quick=quick, blocks=blocks, blocks_per_stack=blocks_per_stack, verbose=verbose
    )
    _session(c, "ab", options)


@task(
    help={
        "base": "baseline label (default pre-refactor)",
        "head": "label to judge (default post-refactor)",
        "strict": "a differing environment or bench code is an error, not a warning",
    }
)
def compare(c: Context, base: str = "pre-refactor", head: str = "post-refactor", strict: bool = False) -> None:
    """Verdict of head against base; exits 0 (gates hold), 1 (a gate fails) or 2 (bad input)."""
    _session(c, "compare", _options(base=base, head=head, strict=strict))
