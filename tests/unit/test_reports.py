"""Pure renderers: SVG plots, units, markdown/HTML escaping, environment differences."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from baseline.reports import envdiff, html, markdown, svgplots
from baseline.reports.units import fmt_ns, fmt_pct, fmt_ratio, unit_for

SVG = "{http://www.w3.org/2000/svg}"
BOX = {"lo": 100.0, "q1": 150.0, "median": 200.0, "q3": 260.0, "hi": 400.0}


def test_nice_ticks_cover_the_range_with_round_steps() -> None:
    assert svgplots.nice_ticks(0, 100) == [0, 20, 40, 60, 80, 100]
    ticks = svgplots.nice_ticks(1.27e6, 1.33e6)
    assert ticks[0] <= 1.27e6 and ticks[-1] >= 1.33e6
    assert svgplots.nice_ticks(5, 5)[0] <= 5 <= svgplots.nice_ticks(5, 5)[-1]
    with pytest.raises(ValueError, match="finite"):
        svgplots.nice_ticks(0, float("inf"))


def test_box_plot_is_valid_svg_with_one_box_per_run_and_escaped_labels() -> None:
    svg = svgplots.box_plot([("run 1", BOX), ("<run & 2>", BOX)], title="a <b> & c")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert len(root.findall(f".//{SVG}rect")) == 3  # background + two boxes
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "a <b> & c" in texts and "<run & 2>" in texts
    assert "µs" not in texts and "ns" in texts  # 100..400 ns stays in ns


def test_box_positions_follow_the_values() -> None:
    root = ET.fromstring(svgplots.box_plot([("r", BOX)], title="t"))
    box = root.findall(f".//{SVG}rect")[1]
    x, width = float(box.get("x")), float(box.get("width"))
    axis_lo, axis_hi = 100.0, 400.0  # nice ticks of [100, 400]
    span = (640 - 20) - 150
    assert x == pytest.approx(150 + (150 - axis_lo) / (axis_hi - axis_lo) * span, abs=0.1)
    assert width == pytest.approx((260 - 150) / (axis_hi - axis_lo) * span, abs=0.2)


def test_cdf_plot_draws_one_line_per_series_in_ms() -> None:
    q = [1e6 * (10 + i / 10) for i in range(101)]
    root = ET.fromstring(svgplots.cdf_plot([("e2e/linear", q), ("e2e/diamond", [v * 1.2 for v in q])], title="cdf"))
    lines = root.findall(f".//{SVG}polyline")
    assert len(lines) == 2 and len(lines[0].get("points").split()) == 101
    assert "ms" in [t.text for t in root.iter(f"{SVG}text")]
    with pytest.raises(ValueError, match="two or more"):
        svgplots.cdf_plot([("x", [1.0])], title="t")


def test_ci_plot_with_reference_line_and_raw_ratio_axis() -> None:
    svg = svgplots.ci_plot([("a", 1.3, 1.2, 1.4)], title="ratios", reference=1.0, latency=False)
    root = ET.fromstring(svg)
    assert any(line.get("stroke-dasharray") for line in root.iter(f"{SVG}line"))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "1" in texts and "ns" not in texts
    with pytest.raises(ValueError, match="at least one point"):
        svgplots.ci_plot([], title="t")


def test_long_labels_keep_their_distinguishing_tail() -> None:
    svg = svgplots.ci_plot([("sql/get_next_ready_tasks/batch_size=100", 1, 1, 1)], title="t")
    assert ">…_tasks/batch_size=100<" in svg


def test_units() -> None:
    assert unit_for(999) == (1.0, "ns") and unit_for(1500) == (1e3, "µs") and unit_for(2.5e7) == (1e6, "ms")
    assert fmt_ns(152_000) == "152 µs" and fmt_ns(12_345_678) == "12.35 ms" and fmt_ns(None) == "-"
    assert fmt_ratio(1.3) == "+30.0%" and fmt_ratio(0.9) == "-10.0%"
    assert fmt_pct(0.051) == "5.1%"


def test_markdown_cells_cannot_break_tables() -> None:
    out = markdown.table(["a", "b"], [["x|y", "line\nbreak"]])
    assert out.splitlines()[2] == "| x\\|y | line break |"


def test_html_table_escapes_text_but_keeps_raw_markup() -> None:
    out = html.html_table(["h"], [["<script>alert(1)</script>"], [html.Raw("<b>ok</b>")]], table_id="t")
    assert "<script>" not in out and "&lt;script&gt;" in out and "<b>ok</b>" in out
    assert out.startswith('<table id="t">')


def test_envdiff_reports_only_latency_relevant_differences() -> None:
    a = {
        "captured_at": "1",
        "machine": {"hostname": "a", "cpu_model": "X", "cpu_count": 2, "memory_bytes": 1},
        "postgres": {"dsn": "postgresql://u@h:1/run_a_1", "server_version": "15.8", "settings": {"fsync": "on"}},
        "git": {"commit": "aaa"},
        "config": {"label": "a", "run": 1, "dataset_scale": 500, "samples": {"e2e": 10}},
    }
    b = {
        "captured_at": "2",
        "machine": {"hostname": "b", "cpu_model": "X", "cpu_count": 4, "memory_bytes": 2},
        "postgres": {"dsn": "postgresql://u@h:2/run_b_1", "server_version": "16.1", "settings": {"fsync": "on"}},
        "git": {"commit": "bbb"},
        "config": {"label": "b", "run": 2, "dataset_scale": 5000, "samples": {"e2e": 100}},
    }
    assert envdiff.differences(a, b) == [
        "config.dataset_scale: 500 != 5000",
        "config.samples.e2e: 10 != 100",
        "machine.cpu_count: 2 != 4",
        "postgres.server_version: '15.8' != '16.1'",
    ]
    assert envdiff.differences(a, a) == []
    assert envdiff.differences({}, {"postgres": {"settings": {"work_mem": "4MB"}}}) == [
        "postgres.settings.work_mem: '(absent)' != '4MB'"
    ]


def test_envdiff_reads_a_fingerprint_from_before_placement_as_unpinned() -> None:
    old = {"config": {"dataset_scale": 500}}
    unpinned = {
        "config": {"dataset_scale": 500, "placement": "none"},
        "placement": {"policy": "none", "harness_cpus": None, "service_cpus": None, "service": "left to the scheduler"},
    }
    split = {"config": {"dataset_scale": 500, "placement": "split"}, "placement": {"policy": "split"}}
    assert envdiff.differences(old, unpinned) == []
    assert envdiff.differences(old, split) == [
        "config.placement: 'none' != 'split'",
        "placement.policy: 'none' != 'split'",
    ]
