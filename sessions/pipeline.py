"""Sessions that run whole pipelines: baseline_pre / baseline_post (the three-run baseline), baseline (any
label), profile_all, net_sweep (compose services under a network delay). Each is one `baseline` process that runs
every phase in its own process.

Options after `--` pass through: `nox -s baseline_pre -- --quick --runs 1`, `-- --label foo`,
`-- --services external --dsn ... --api-url ...`, `-- --only-run 2`, `-- --no-profile`, `-- -v`.
"""

from __future__ import annotations

import nox

from sessions._common import PYTHON, harness, install_project


@nox.session(python=PYTHON)
def baseline_pre(session: nox.Session) -> None:
    """Three-run baseline before the refactor -> profiles/pre-refactor/."""
    install_project(session)
    harness(session, "pipeline", "--label", "pre-refactor")


@nox.session(python=PYTHON)
def baseline_post(session: nox.Session) -> None:
    """Three-run baseline after the refactor -> profiles/post-refactor/."""
    install_project(session)
    harness(session, "pipeline", "--label", "post-refactor")


@nox.session(python=PYTHON)
def baseline(session: nox.Session) -> None:
    """A baseline under any label: -- --label L (default adhoc) [--runs N] [--quick] ..."""
    install_project(session)
    harness(session, "pipeline")


@nox.session(python=PYTHON)
def profile_all(session: nox.Session) -> None:
    """Flamegraphs of every phase (SQL bench, E2E with every service, lifecycle tests) and a table of them."""
    install_project(session)
    harness(session, "profile-all")


@nox.session(python=PYTHON)
def ab(session: nox.Session) -> None:
    """Two revisions measured in the same minutes: -- [--base REF] [--head REF] [--quick] [--blocks N]."""
    install_project(session)
    harness(session, "ab")


@nox.session(python=PYTHON)
def verdict_check(session: nox.Session) -> None:
    """This machine's A/B false-alarm rate and power against injected slowdowns: -- [--repeats N]."""
    install_project(session)
    harness(session, "verdict-check")


@nox.session(python=PYTHON)
def net_sweep(session: nox.Session) -> None:
    """E2E and task-creation p50 on compose services against a per-container network delay (default 0, 0.5, 2 ms)
    -> profiles/net-sweep/net_sweep.{json,md,svg}; -- --delays 0,1,5 --runs 3 --quick pass through."""
    install_project(session)
    harness(session, "net-sweep")
