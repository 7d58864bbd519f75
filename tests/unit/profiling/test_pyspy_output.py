"""The pure analysis on real py-spy output: a tiny script recorded with `py-spy record --format raw --idle`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from baseline.profiling import flamegraph, folded, hotpaths, speedscope

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


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> str:
    exe = shutil.which("py-spy")
    assert exe, "py-spy is a dev dependency: pip install -e '.[dev]'"
    work = tmp_path_factory.mktemp("pyspy")
    script, out = work / "spin.py", work / "spin.folded"
    script.write_text(SCRIPT)
    cmd = [exe, "record", "--format", "raw", "--rate", "200", "--idle", "-o", str(out), "--"]
    cmd += [sys.executable, str(script)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"py-spy failed (needs ptrace rights): {proc.stderr[-500:]}"
    return Path(out).read_text()


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
