"""CLI commands that run whole pipelines in this process: `pipeline` (the N-run baseline) and `profile-all`."""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table

from baseline.config import Config, add_common_options, cli_values, load_config
from baseline.console import console
from baseline.errors import EXIT_OK

EXAMPLES = """examples:
  baseline pipeline --label pre-refactor            three runs of every phase, then the summary
  baseline pipeline --label L --quick --runs 1      a smoke-sized baseline
  baseline pipeline --label L --only-run 2          redo run 2; the other runs are kept
"""


def _pipeline_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("pipeline options")
    group.add_argument("--only-run", type=int, default=None, metavar="N", help="redo run N only and re-summarize")
    group.add_argument("--no-profile", action="store_true", help="no py-spy pass over the services during E2E")
    group.add_argument("-v", "--verbose", action="store_true", help="show every phase process's own output")


def _summarize(config: Config) -> dict[str, Any] | None:
    """The label's summary and reports; None (said on the console) when no run of the label is usable."""
    from baseline import summary
    from baseline.results import StoreError

    try:
        built, paths = summary.write_summary(config.label_dir, cv_threshold=config.stability_cv)
    except StoreError as exc:
        console(stderr=True).print(f"no summary written: {exc}")
        return None
    return {"summary": built, "paths": paths}


def _headline(config: Config, finished: dict[str, Any] | None) -> None:
    from baseline.reports.text import HEADLINE_HEADERS, headline_rows
    from baseline.targets import target_for

    if finished is None:
        return
    out = console()
    built = finished["summary"]
    rows = headline_rows(built, target_for(config).workload.key_cases)
    runs = ", ".join(str(r) for r in built["runs"])
    table = Table(title=f"{config.label}: key cases (runs {runs}; p50 per run, cross-run CV)", title_justify="left")
    for header in HEADLINE_HEADERS:
        table.add_column(header, justify="left" if header in ("case", "") else "right")
    for row in rows:
        table.add_row(*row)
    out.print(table)
    if built["unstable_cases"]:
        out.print(
            f"unstable (CV over {config.stability_cv:.0%}): {len(built['unstable_cases'])} case(s); see the report"
        )
    for path in finished["paths"]:
        out.print(f"  {path}")


def cmd_pipeline(args: argparse.Namespace) -> int:
    from baseline.pipeline.plan import baseline_plan
    from baseline.pipeline.runner import Pipeline, run_failed

    config = load_config(args)
    plans = baseline_plan(config.runs, only_run=args.only_run, profile=not args.no_profile)
    pipeline = Pipeline(
        config,
        plans,
        cli_values=cli_values(args),
        build=True,
        verbose=args.verbose,
        console=console(),
        finish=_summarize,
    )
    outcomes, finished = pipeline.run()
    _headline(config, finished)
    failure = run_failed(outcomes)
    if failure is not None:
        raise failure
    return EXIT_OK


def cmd_profile_all(args: argparse.Namespace) -> int:
    from baseline.commands.profiling import cmd_profile_report
    from baseline.pipeline.plan import profile_all_plan
    from baseline.pipeline.runner import Pipeline, run_failed

    config = load_config(args)
    pipeline = Pipeline(
        config, profile_all_plan(), cli_values=cli_values(args), build=False, verbose=args.verbose, console=console()
    )
    outcomes, _ = pipeline.run()
    args.rate = None
    cmd_profile_report(args)
    failure = run_failed(outcomes)
    if failure is not None:
        raise failure
    return EXIT_OK


def run_ab(config: Config, args: argparse.Namespace, *, base: str | None, head: str | None) -> int:
    """An A/B of two revisions; prints the verdict; returns compare's exit code (0 pass, 1 a gate failed)."""
    from baseline import compare_io
    from baseline.pipeline.ab import ABRun

    verdict, code = ABRun(
        config,
        base_ref=base,
        head_ref=head,
        cli_values=cli_values(args),
        verbose=getattr(args, "verbose", False),
        console=console(),
        seed=config.dataset_seed,
    ).run()
    console().print(compare_io.console_summary(verdict), markup=False, highlight=False)
    return code


def cmd_ab(args: argparse.Namespace) -> int:
    return run_ab(load_config(args), args, base=args.base, head=args.head)


def cmd_verdict_check(args: argparse.Namespace) -> int:
    from baseline.pipeline.verdict_check import verdict_check
    from baseline.verdict_tally import render_markdown

    args.quick = True  # the check measures the quick A/B, what CI gates on: its sizes, in this process and its children
    config = load_config(args)
    kinds = tuple(kind.strip() for kind in args.kinds.split(",") if kind.strip())
    result = verdict_check(
        config,
        repeats=args.repeats,
        cli_values=cli_values(args),
        console=console(),
        kinds=kinds,
        first_seed=args.first_seed,
    )
    console().print(render_markdown(result), markup=False, highlight=False)
    console().print(f"  {result['output']}")
    return EXIT_OK


AB_EXAMPLES = """examples:
  baseline ab                                  the working tree against where it left the default branch
  baseline ab --base main --head HEAD --quick  two commits, smoke-sized (what CI gates on)
  baseline ab --base v1.2 --head v1.3          two tags
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "pipeline",
        help="N runs of every phase on fresh services, then the summary (what nox -s baseline_pre runs)",
        description="Clean build, then per run: fresh stack, every bench, E2E with service profiling, the "
        "lifecycle profile, teardown; then the summary and a table of the key cases.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_options(p)
    _pipeline_options(p)
    p.set_defaults(func=cmd_pipeline)

    p = subparsers.add_parser(
        "ab",
        help="two revisions measured in the same minutes, blocks alternating; verdict as compare's",
        description="Build both revisions (each in its own worktree and venv), start a stack for each, alternate "
        "their blocks phase by phase, then judge from the pairs of blocks -> profiles/ab/<base>__<head>/. "
        "Exit 0 when every gate holds, 1 when one fails (after a confirmation pass), 2 on bad input.",
        epilog=AB_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_options(p)
    p.add_argument("--base", default=None, metavar="REF", help="base revision (default: the merge base with main)")
    p.add_argument(
        "--head", default=None, metavar="REF", help="head revision (default: the working tree, changes included)"
    )
    p.add_argument("--blocks", dest="ab_blocks", default=None, metavar="N", help="blocks per phase (default 10)")
    p.add_argument(
        "--blocks-per-stack",
        dest="ab_blocks_per_stack",
        default=None,
        metavar="N",
        help="blocks of every phase between fresh starts of both stacks (default 1: every block on new stacks)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show every phase process's own output")
    p.set_defaults(func=cmd_ab)

    p = subparsers.add_parser(
        "verdict-check",
        help="this machine's false-alarm rate (A/A runs) and power (injected slowdowns) of the quick A/B",
        description="Quick A/B runs of HEAD against itself, then against a copy slowed by 10% in one SQL function and "
        "by 15% in the E2E chain; prints how often each gate fired and the minimum detectable effect per phase.",
    )
    add_common_options(p)
    p.add_argument("--repeats", type=int, default=3, metavar="N", help="runs of each kind (default 3)")
    p.add_argument(
        "--kinds",
        default="aa,sql,e2e",
        metavar="K,..",
        help="which runs: aa (false alarms), sql and e2e (the injected slowdowns); default all three",
    )
    p.add_argument(
        "--first-seed",
        type=int,
        default=0,
        metavar="N",
        help="the first run's block-order seed (another check with more draws: the seed after the last one)",
    )
    p.set_defaults(func=cmd_verdict_check)

    p = subparsers.add_parser(
        "profile-all",
        help="every profiling phase (SQL bench, E2E with every service, lifecycle tests), then a table of them",
    )
    add_common_options(p)
    p.add_argument("-v", "--verbose", action="store_true", help="show every phase process's own output")
    p.set_defaults(func=cmd_profile_all)
