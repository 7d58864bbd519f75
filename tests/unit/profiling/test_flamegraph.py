"""SVG flamegraphs parse as XML and carry per-frame titles with the right shares."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from baseline.profiling.flamegraph import render_diff_svg, render_svg

NS = "{http://www.w3.org/2000/svg}"
STACKS = {
    "main (app.py);work (app.py);parse (json/decoder.py)": 250,
    "main (app.py);work (app.py)": 250,
    "main (app.py);wait <&> (app.py)": 500,
}


def _titles(svg: str) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{NS}title")]


def test_svg_is_xml_with_a_title_per_frame_and_right_shares() -> None:
    svg = render_svg(STACKS, title="lifecycle <run 1>")
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    titles = _titles(svg)
    assert "all — 1000 samples (100.00%)" in titles
    assert "main (app.py) — 1000 samples (100.00%)" in titles
    assert "work (app.py) — 500 samples (50.00%)" in titles
    assert "parse (json/decoder.py) — 250 samples (25.00%)" in titles
    assert "wait <&> (app.py) — 500 samples (50.00%)" in titles  # escaped, still round-trips
    assert len(titles) == 5
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "lifecycle <run 1>" in texts


def test_frame_widths_are_proportional_to_samples() -> None:
    root = ET.fromstring(render_svg(STACKS, title="t", width=1020))
    widths = {}
    for g in root.iter(f"{NS}g"):
        name = g.find(f"{NS}title").text.split(" — ")[0]
        widths[name] = float(g.find(f"{NS}rect").get("width"))
    assert widths["all"] == pytest.approx(1000 - 0.5, abs=0.01)
    assert widths["work (app.py)"] == pytest.approx(500 - 0.5, abs=0.01)
    assert widths["parse (json/decoder.py)"] == pytest.approx(250 - 0.5, abs=0.01)


def test_warm_palette_and_tiny_frames_omitted() -> None:
    svg = render_svg({"a;b": 99_990, "a;tiny": 10}, title="t")
    assert not any(t.startswith("tiny") for t in _titles(svg))  # 0.01% < 0.1%
    fills = re.findall(r'fill="rgb\((\d+),(\d+),(\d+)\)"', svg)
    assert fills and all(int(r) >= 205 and int(b) <= 55 for r, _, b in fills)  # reds, oranges, yellows


def test_diff_svg_colours_growth_red_and_shrink_blue() -> None:
    base = {"a;grew": 50, "a;shrank": 50}
    head = {"a;grew": 80, "a;shrank": 20}
    root = ET.fromstring(render_diff_svg(base, head, title="diff"))
    fills = {}
    for g in root.iter(f"{NS}g"):
        fills[g.find(f"{NS}title").text.split(" — ")[0]] = (g.find(f"{NS}title").text, g.find(f"{NS}rect").get("fill"))
    title, fill = fills["grew"]
    assert "head 80 samples (80.00%)" in title and "base 50 samples (50.00%)" in title and "+30.00 pp" in title
    assert fill == "rgb(255,60,60)"
    title, fill = fills["shrank"]
    assert "-30.00 pp" in title and fill == "rgb(60,60,255)"
    assert fills["a"][1] == "rgb(235,235,235)"  # unchanged share


def test_empty_profile_is_rejected() -> None:
    with pytest.raises(ValueError, match="no samples"):
        render_svg({}, title="t")
