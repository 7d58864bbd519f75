"""The pure analysis on real py-spy output: a tiny script recorded with `py-spy record --format raw --idle`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from baseline.profiling import diff, flamegraph, folded, hotpaths, speedscope

SCRIPT = textwrap.dedent(
    """
    import json, threading, time

    def encode_payload(n):
        return json.dumps({"k": list(range(n))})

    def idle_wait(deadline):
        time.sleep(max(0.0, deadline - time.monotonic()))

    deadline = time.monotonic() + 0.8
    t = threading.Thread(target=idle_wait, args=(deadline,))
    t.start()
    while time.monotonic() < deadline:
        encode_payload(300)
    t.join()
    """
)


def record(work: Path, script_text: str, *flags: str) -> str:
    """py-spy's raw folded output of `script_text` run under `py-spy record` with `flags`."""
    exe = shutil.which("py-spy")
    assert exe, "py-spy is a dev dependency: pip install -e '.[dev]'"
    script, out = work / "spin.py", work / f"spin{len(list(work.iterdir()))}.folded"
    script.write_text(script_text)
    cmd = [exe, "record", "--format", "raw", "--rate", "200", "--idle", *flags, "-o", str(out), "--"]
    cmd += [sys.executable, str(script)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"py-spy failed (needs ptrace rights): {proc.stderr[-500:]}"
    return Path(out).read_text()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> str:
    return record(tmp_path_factory.mktemp("pyspy"), SCRIPT)


def test_real_output_parses_and_analyses(recorded: str) -> None:
    stacks = folded.strip_line_numbers(folded.parse(recorded))
    assert folded.total(stacks) > 50
    analysis = hotpaths.analyze(stacks)
    cats = analysis["categories"]
    # The main thread encodes JSON all the time; the helper thread sleeps all the time.
    assert cats["serialization"]["share"] > 0.2
    assert cats["idle"]["share"] > 0.2
    inclusive = {row["frame"] for row in analysis["top_inclusive"]}
    assert "encode_payload (spin.py)" in inclusive
    svg = flamegraph.render_svg(stacks, title="spin")
    titles = [t.text or "" for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}title")]
    assert any(t.startswith("encode_payload (spin.py) — ") for t in titles)
    doc = speedscope.to_speedscope(folded.parse(recorded), name="spin")
    assert sum(doc["profiles"][0]["weights"]) == folded.total(stacks)
    assert any("line" in f for f in doc["shared"]["frames"])  # py-spy records line numbers by default


CHILD_SCRIPT = SCRIPT + textwrap.dedent(
    """
    import subprocess, sys
    subprocess.run([sys.executable, __file__.replace("spin.py", "child.py")])
    """
)


def _root_shares(stacks: dict[str, int]) -> dict[str, float]:
    shares: dict[str, float] = {}
    for stack, count in folded.normalize(stacks).items():
        root = stack.split(";")[0]
        shares[root] = shares.get(root, 0.0) + count / folded.total(stacks)
    return shares


def test_runs_with_and_without_the_process_root_frame_give_the_same_tree(tmp_path: Path) -> None:
    plain = folded.parse(record(tmp_path, SCRIPT, "--nolineno"))
    followed = folded.parse(record(tmp_path, SCRIPT, "--nolineno", "--subprocesses"))
    assert not any(s.startswith("process ") for s in plain)
    assert all(s.startswith("process ") for s in followed)  # py-spy's root frame, in this run only
    roots = [_root_shares(p) for p in (plain, followed)]
    big = [{frame for frame, share in r.items() if share >= 0.2} for r in roots]  # start-up imports come and go
    assert big[0] == big[1] == {"<module> (spin.py)", "Thread._bootstrap (threading.py)"}, roots
    # The diff and the hot paths see the same root: no process frame new in one (start-up imports that py-spy
    # caught in one run only may be).
    result = diff.diff_profiles(plain, followed, min_share=0.05)
    changed = [row["frame"] for row in result["new_frames"] + result["removed_frames"]]
    assert not any("process" in frame for frame in changed), changed
    tops = {row["frame"] for row in hotpaths.analyze(followed)["top_inclusive"]}
    assert "<module> (spin.py)" in tops and not any("process" in f for f in tops)


def test_a_child_process_keeps_its_own_frame(tmp_path: Path) -> None:
    from baseline.profiling.capture import record_command  # the lifecycle profile's path: wrapper, then clean-up

    (tmp_path / "spin.py").write_text(CHILD_SCRIPT)
    (tmp_path / "child.py").write_text("import time\ntime.sleep(0.4)\n")
    out = tmp_path / "spin.folded"
    record_command([sys.executable, str(tmp_path / "spin.py")], out, rate=200, subprocesses=True, idle=True)
    stacks = folded.normalize(folded.parse(out.read_text()))
    child = {s: n for s, n in stacks.items() if s.startswith(folded.SUBPROCESS)}
    assert {s.split(";")[0] for s in child} == {'subprocess "python child.py"'}, sorted(stacks)
    assert sum(child.values()) > 20  # ~80 samples of 0.4 s at 200 Hz
    assert any(s.startswith("<module> (spin.py)") for s in stacks)  # the parent's own samples, at the root
    assert not any(s.startswith("<module> (child.py)") for s in stacks)


def test_an_a_a_diff_of_real_runs_stays_grey(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    # Six runs of the same script, taken in turn (A B A B A B) so that drift between runs falls on both sides.
    runs = [folded.parse(record(tmp_path, SCRIPT, "--nolineno", "--subprocesses")) for _ in range(6)]
    svg = flamegraph.render_diff_svg(runs[0::2], runs[1::2], title="A/A")
    ns = "{http://www.w3.org/2000/svg}"
    fills = [g.find(f"{ns}rect").get("fill") for g in ET.fromstring(svg).iter(f"{ns}g") if g.get("class") == "f"]
    painted = [fill for fill in fills if fill != flamegraph.NOT_SIGNIFICANT]
    # Share changes of a few pp between such runs are common (up to 4.3 pp seen): the old scale, relative to the
    # largest change, painted that one full red or blue; here it is grey unless it passes both tests.
    assert len(painted) < len(fills) / 4, painted
    assert not {"rgb(255,40,40)", "rgb(40,40,255)"} & set(painted)
