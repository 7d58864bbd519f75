"""SVG flamegraphs parse as XML, carry per-frame titles with the right shares, lay out what the inline script zooms,
and colour differences on a fixed scale with insignificant changes grey."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from baseline.profiling.flamegraph import DIFF_SATURATION, NOT_SIGNIFICANT, render_diff_svg, render_svg
from baseline.profiling.hotpaths import LOW_SAMPLES

NS = "{http://www.w3.org/2000/svg}"
STACKS = {
    "main (app.py);work (app.py);parse (json/decoder.py)": 250,
    "main (app.py);work (app.py)": 250,
    "main (app.py);wait <&> (app.py)": 500,
}


def _frames(svg: str) -> dict[str, ET.Element]:
    """Frame groups by name (the tooltip up to its dash)."""
    return {
        (g.find(f"{NS}title").text or "").split(" — ")[0]: g
        for g in ET.fromstring(svg).iter(f"{NS}g")
        if g.get("class") == "f"
    }


def _titles(svg: str) -> list[str]:
    return [g.find(f"{NS}title").text or "" for g in _frames(svg).values()]


def _texts(svg: str) -> list[str]:
    return ["".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{NS}text")]


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
    assert "lifecycle <run 1>" in _texts(svg)
    assert root.find(f"{NS}title").text == "lifecycle <run 1>"  # the browser tab's name


def test_frame_widths_are_proportional_to_samples() -> None:
    frames = _frames(render_svg(STACKS, title="t", width=1020))
    widths = {name: float(g.find(f"{NS}rect").get("width")) for name, g in frames.items()}
    assert widths["all"] == pytest.approx(1000 - 0.5, abs=0.01)
    assert widths["work (app.py)"] == pytest.approx(500 - 0.5, abs=0.01)
    assert widths["parse (json/decoder.py)"] == pytest.approx(250 - 0.5, abs=0.01)


def test_each_frame_carries_the_sample_range_and_depth_the_zoom_uses() -> None:
    svg = render_svg(STACKS, title="t", width=1020)
    frames = _frames(svg)
    first = next(g for g in ET.fromstring(svg).iter(f"{NS}g") if g.get("class") == "f")
    assert (first.get("data-s"), first.get("data-v"), first.get("data-d")) == ("0", "1000", "0")  # the root first
    for name, child, parent in [
        ("wait", "wait <&> (app.py)", "main (app.py)"),
        ("parse", "parse (json/decoder.py)", "work (app.py)"),
    ]:
        c, p = frames[child], frames[parent]
        assert int(c.get("data-d")) == int(p.get("data-d")) + 1, name
        assert int(p.get("data-s")) <= int(c.get("data-s"))
        assert int(c.get("data-s")) + int(c.get("data-v")) <= int(p.get("data-s")) + int(p.get("data-v"))
        x = float(c.find(f"{NS}rect").get("x"))
        assert x == pytest.approx(10 + int(c.get("data-s")), abs=0.01)  # x = pad + first sample * scale (1 px)
    # Siblings do not overlap: work then wait (sorted by name) share main's range end to end.
    work, wait = frames["work (app.py)"], frames["wait <&> (app.py)"]
    spans = sorted((int(g.get("data-s")), int(g.get("data-v"))) for g in (work, wait))
    assert spans[0][0] + spans[0][1] == spans[1][0]


def test_the_svg_is_self_contained_and_complete_without_its_script() -> None:
    svg = render_svg(STACKS, title="t")
    root = ET.fromstring(svg)
    scripts = list(root.iter(f"{NS}script"))
    assert len(scripts) == 1 and scripts[0].get("href") is None and "zoom" in (scripts[0].text or "")
    assert not re.search(r'(?:href|src)="(?:https?:)?//', svg)  # nothing fetched
    style = root.find(f"{NS}style").text or ""
    assert ".ui{display:none}" in style  # the buttons show only once the script ran (it adds class js)
    assert "js" not in (root.get("class") or "").split()
    labels = [t for t in _texts(svg) if t in ("work", "main", "wait <&>")]
    assert sorted(labels) == ["main", "wait <&>", "work"]  # labels drawn by the SVG itself, not the script


def test_warm_palette_and_tiny_frames_omitted() -> None:
    svg = render_svg({"a;b": 99_990, "a;tiny": 10}, title="t")
    assert not any(t.startswith("tiny") for t in _titles(svg))  # 0.01% < 0.1%
    fills = [g.find(f"{NS}rect").get("fill") for g in _frames(svg).values()]
    rgb = [tuple(map(int, re.findall(r"\d+", f))) for f in fills]
    assert rgb and all(r >= 205 and b <= 55 for r, _, b in rgb)  # reds, oranges, yellows


def test_a_small_profile_says_so_and_a_large_one_does_not() -> None:
    small = render_svg({"a;b": LOW_SAMPLES - 1}, title="t")
    warnings = [t for t in _texts(small) if t.startswith("⚠")]
    assert len(warnings) == 1 and f"only {LOW_SAMPLES - 1} samples" in warnings[0]
    assert not any(t.startswith("⚠") for t in _texts(render_svg({"a;b": LOW_SAMPLES}, title="t")))


def test_notes_and_links_are_shown() -> None:
    svg = render_svg(
        {"a;b": 1000},
        title="t",
        notes=["worker-1 exited during capture"],
        links=[("working time only", "x.working.svg"), ("speedscope file", "x.speedscope.json")],
        link_note="how to open",
    )
    assert "⚠ worker-1 exited during capture" in _texts(svg)
    anchors = {"".join(a.itertext()): a.get("href") for a in ET.fromstring(svg).iter(f"{NS}a")}
    assert anchors == {"working time only": "x.working.svg", "speedscope file": "x.speedscope.json"}


def _fills(svg: str) -> dict[str, tuple[str, str]]:
    return {
        name: (g.find(f"{NS}title").text or "", g.find(f"{NS}rect").get("fill") or "")
        for name, g in _frames(svg).items()
    }


def test_diff_colours_on_an_absolute_scale_red_grew_blue_shrank() -> None:
    fills = _fills(render_diff_svg([{"a;grew": 500, "a;shrank": 500}], [{"a;grew": 800, "a;shrank": 200}], title="d"))
    title, fill = fills["grew"]
    assert "head 800 samples (80.00%)" in title and "base 500 samples (50.00%)" in title and "+30.00 pp" in title
    assert "significant" in title and "not significant" not in title
    assert fill == "rgb(255,40,40)"  # 30 pp is past the 5 pp saturation
    title, fill = fills["shrank"]
    assert "-30.00 pp" in title and fill == "rgb(40,40,255)"
    assert fills["a"][1] == NOT_SIGNIFICANT  # 100% on both sides
    # A significant change of 3 pp is painted at 3/5 of the scale, whatever the largest change in the graph is.
    fills = _fills(render_diff_svg([{"a;x": 50_000, "a;y": 50_000}], [{"a;x": 53_000, "a;y": 47_000}], title="d"))
    level = round(215 - 175 * 0.03 / DIFF_SATURATION)
    assert fills["x"][1] == f"rgb(255,{level},{level})" and fills["y"][1] == f"rgb({level},{level},255)"


def test_diff_greys_changes_that_are_not_significant() -> None:
    # 51% vs 49% of 1000 samples: p = 0.37, painted grey (the old relative scale made it saturated red).
    fills = _fills(render_diff_svg([{"a;x": 490, "a;y": 510}], [{"a;x": 510, "a;y": 490}], title="d"))
    assert fills["x"][1] == fills["y"][1] == NOT_SIGNIFICANT
    assert "not significant" in fills["x"][0]


def test_diff_needs_every_run_beyond_the_other_side_when_there_are_runs() -> None:
    base = [{"a;x": 400, "a;y": 600}, {"a;x": 600, "a;y": 400}]
    head = [{"a;x": 650, "a;y": 350}, {"a;x": 550, "a;y": 450}]  # pooled 60% vs 50%: z says p < 0.001
    fills = _fills(render_diff_svg(base, head, title="d"))
    assert fills["x"][1] == NOT_SIGNIFICANT  # a head run (55%) is not beyond a base run (60%)
    head = [{"a;x": 650, "a;y": 350}, {"a;x": 700, "a;y": 300}]
    assert _fills(render_diff_svg(base, head, title="d"))["x"][1] == "rgb(255,40,40)"


def test_diff_has_a_legend_and_warns_about_small_sides() -> None:
    svg = render_diff_svg([{"a;x": 100}], [{"a;x": 900, "a;y": 100}], title="d")
    texts = _texts(svg)
    assert "shrank" in texts and "not significant" in texts and "+5" in texts and "-5" in texts
    assert any(t.startswith("colour: head share - base share") and "5 pp" in t for t in texts)
    warnings = [t for t in texts if t.startswith("⚠")]
    assert len(warnings) == 2 and warnings[0].startswith("⚠ base: only 100 samples")
    assert warnings[1].startswith("⚠ one run on a side: only the z-test judges")
    two = _texts(render_diff_svg([{"a;x": 600}, {"a;x": 600}], [{"a;x": 900}, {"a;x": 900}], title="d"))
    assert not any(t.startswith("⚠") for t in two)


def test_diff_takes_runs_not_one_profile() -> None:
    with pytest.raises(TypeError, match="sequence of folded profiles"):
        render_diff_svg({"a": 1}, [{"a": 1}], title="d")  # type: ignore[arg-type]


def test_empty_profile_is_rejected() -> None:
    with pytest.raises(ValueError, match="no samples"):
        render_svg({}, title="t")
