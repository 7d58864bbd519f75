"""The network-delay sweep: its report (pure) and `baseline net-sweep` on the real engine, where the kernel's netem
decides whether the delayed stacks run (they do where sch_netem exists; elsewhere the sweep stops saying why)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from baseline.commands.compose import delay_label, parse_delays
from baseline.errors import BadInput
from baseline.reports.netsweep import pooled_p50, sweep_markdown, sweep_svg
from baseline.reports.svgplots import line_plot
from baseline.services import docker_host, images

ROOT = Path(__file__).resolve().parents[2]
POINTS = [
    {
        "delay_ms": 0.0,
        "label": "s-0ms",
        "cases": {"e2e/workflow/linear": {"p50_ns": 10e6}, "task_init/x": {"p50_ns": 2e6}},
    },
    {
        "delay_ms": 2.0,
        "label": "s-2ms",
        "cases": {"e2e/workflow/linear": {"p50_ns": 34e6}, "task_init/x": {"p50_ns": 5e6}},
    },
]


def test_the_report_states_each_p50_and_its_growth() -> None:
    text = sweep_markdown("s", POINTS, "note")
    assert "| case | 0 ms | 2 ms |" in text
    assert "| e2e/workflow/linear | 10 ms | 34 ms (+24 ms) |" in text
    assert "Labels: s-0ms, s-2ms" in text


def test_the_plot_draws_a_line_per_latency_case_over_the_delays() -> None:
    svg = sweep_svg(POINTS)
    assert svg.startswith("<svg") and svg.count("<polyline") == 1  # task_init/x is not a task-creation case
    assert "added delay per hop (ms)" in svg and "e2e/workflow/linear" in svg
    two = line_plot([("a", [(0, 1e6), (1, 2e6)]), ("b", [(0, 3e6)])], title="t", x_label="x")
    assert two.count("<polyline") == 2 and two.count("<circle") == 3
    with pytest.raises(ValueError):
        line_plot([("a", [])], title="t", x_label="x")


def test_delays_and_labels() -> None:
    assert parse_delays("2, 0,0.5,2") == [0.0, 0.5, 2.0]
    assert delay_label("net-sweep", 0.5) == "net-sweep-0.5ms"
    assert pooled_p50([[1, 2], [3]]) == {"p50_ns": 2.0, "n": 3, "runs": 2}
    for bad in ("x", "-1", ""):
        with pytest.raises(BadInput, match="--delays"):
            parse_delays(bad)


def _netem_works(docker: Any, image: str) -> bool:
    from docker.errors import ContainerError

    try:
        docker.containers.run(
            image,
            ["tc", "qdisc", "add", "dev", "eth0", "root", "netem", "delay", "1ms"],
            cap_add=["NET_ADMIN"],
            remove=True,
        )
    except ContainerError:
        return False
    return True


@pytest.mark.integration
@pytest.mark.slow
def test_the_sweep_measures_each_delay_or_says_why_it_cannot(harness_env: Callable[..., dict[str, str]]) -> None:
    reason = docker_host.engine_reachable()
    if reason is not None:
        pytest.skip(f"no Docker engine reachable, so no compose stack can start here: {reason}")
    env = harness_env("net-sweep", {"sql": 10, "event": 10, "task_init": 10, "e2e": 4})
    docker = docker_host.client()
    try:
        from baseline.config import load_config

        engine = images.ensure_images(load_config(environ=env, cwd=ROOT), docker)["engine"].tag
        netem = _netem_works(docker, engine)
        proc = subprocess.run(
            [sys.executable, "-m", "baseline.cli", "net-sweep", "--label", "sweep", "--quick", "--delays", "0,0.5"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        leftover = docker.containers.list(all=True, filters={"label": f"baseline.workdir={env['BASELINE_WORKDIR']}"})
    finally:
        subprocess.run([sys.executable, "-m", "baseline.cli", "down"], cwd=ROOT, env=env, capture_output=True)
        docker.close()
    assert leftover == []
    record = json.loads((Path(env["BASELINE_OUTPUT_DIR"]) / "sweep" / "net_sweep.json").read_text())
    first = record["points"][0]
    assert first["delay_ms"] == 0 and first["cases"]["e2e/workflow/linear"]["p50_ns"] > 0
    assert (Path(env["BASELINE_OUTPUT_DIR"]) / "sweep-0ms" / "run-1" / "e2e.json").is_file()
    assert (Path(env["BASELINE_OUTPUT_DIR"]) / "sweep" / "net_sweep.svg").read_text().startswith("<svg")
    if netem:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        delayed = record["points"][1]["cases"]
        # at least two hops of the chain (client -> api -> postgres) each wait 0.5 ms more
        assert delayed["e2e/workflow/linear"]["p50_ns"] > first["cases"]["e2e/workflow/linear"]["p50_ns"] + 1e6
    else:
        assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "net-sweep stopped at 0.5 ms" in proc.stderr and "netem" in proc.stderr
        assert [p["delay_ms"] for p in record["points"]] == [0]
