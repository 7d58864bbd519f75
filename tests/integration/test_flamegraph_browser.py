"""Flamegraphs of a real py-spy recording, opened from disk in headless Chromium (Debian's) and driven over the
DevTools protocol: search highlights a frame, a click zooms to it, reset restores, and with scripts off the same
picture renders without the buttons.

The protocol is spoken over `websockets` (a dev dependency): playwright and pyppeteer download browsers of their
own, which this machine cannot.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from baseline.profiling import flamegraph, folded
from baseline.profiling.artifacts import load_stacks, render_artifacts
from baseline.profiling.capture import record_command
from baseline.profiling.flamegraph_script import HIGHLIGHT

SCRIPT = textwrap.dedent(
    """
    import json, threading, time

    def encode_payload(n):
        return json.dumps({"k": list(range(n))})

    def idle_wait(deadline):
        time.sleep(max(0.0, deadline - time.monotonic()))

    deadline = time.monotonic() + 1.0
    t = threading.Thread(target=idle_wait, args=(deadline,))
    t.start()
    while time.monotonic() < deadline:
        encode_payload(300)
    t.join()
    """
)
WIDTH, PAD = 1200, 10  # flamegraph.render_svg's defaults
SHOTS = Path(tempfile.gettempdir()) / "baseline-flamegraph-shots"  # kept after the run, to look at


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("chromium is not installed: apt-get update && apt-get install -y chromium (the CI's .ci/run does)")
    return found


class Browser:
    """One headless Chromium and one tab, over the DevTools protocol: commands, events, JavaScript dialogs."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws, self.last_id, self.pending = ws, 0, []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime"):
            self.call(f"{domain}.enable", session=self.session)

    def send(self, method: str, session: str | None = None, **params: Any) -> int:
        self.last_id += 1
        message: dict[str, Any] = {"id": self.last_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        return self.last_id

    def wait(self, matches: Callable[[dict[str, Any]], bool], timeout: float = 30.0) -> dict[str, Any]:
        for i, message in enumerate(self.pending):
            if matches(message):
                return self.pending.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if matches(message):
                return message
            self.pending.append(message)

    def reply(self, call_id: int) -> dict[str, Any]:
        message = self.wait(lambda m: m.get("id") == call_id)
        assert "error" not in message, message["error"]
        result: dict[str, Any] = message["result"]
        return result

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        return self.reply(self.send(method, session, **params))

    def tab(self, method: str, **params: Any) -> dict[str, Any]:
        return self.call(method, self.session, **params)

    def open(self, url: str, *, scripts: bool = True) -> None:
        self.tab("Emulation.setScriptExecutionDisabled", value=not scripts)
        self.pending.clear()
        self.tab("Page.navigate", url=url)
        self.wait(lambda m: m.get("method") == "Page.loadEventFired")

    def js(self, expression: str) -> Any:
        result = self.tab("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def click(self, x: float, y: float, *, answer_prompt: str | None = None) -> None:
        """A left click at page coordinates; `answer_prompt` types into the prompt() the click opens, then OK."""
        press = {"x": x, "y": y, "button": "left", "clickCount": 1}
        self.tab("Input.dispatchMouseEvent", type="mousePressed", **press)
        release = self.send("Input.dispatchMouseEvent", self.session, type="mouseReleased", **press)
        if answer_prompt is not None:  # the release's reply comes only once the dialog is closed
            dialog = self.wait(lambda m: m.get("method") == "Page.javascriptDialogOpening")
            assert dialog["params"]["type"] == "prompt"
            self.tab("Page.handleJavaScriptDialog", accept=True, promptText=answer_prompt)
        self.reply(release)

    def screenshot(self, name: str) -> Path:
        SHOTS.mkdir(exist_ok=True)
        path = SHOTS / name
        shot = self.tab("Page.captureScreenshot", format="png", captureBeyondViewport=True)  # the whole SVG
        path.write_bytes(base64.b64decode(shot["data"]))
        assert path.read_bytes().startswith(b"\x89PNG")
        return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    profile = Path(tempfile.mkdtemp(prefix="baseline-chromium-"))
    argv = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0"]
    argv += ["--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    argv += [f"--user-data-dir={profile}", "--window-size=1220,700", "--hide-scrollbars", "about:blank"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"  # Chromium writes its port and browser path here
        deadline = time.monotonic() + 30
        while not (port_file.exists() and len(port_file.read_text().splitlines()) == 2):
            assert proc.poll() is None and time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.05)
        port, path = port_file.read_text().splitlines()
        with connect(f"ws://127.0.0.1:{port}{path}", max_size=None) as ws:
            yield Browser(ws)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A real profile (py-spy through the lifecycle capture's path) and every view render_artifacts writes of it."""
    work = tmp_path_factory.mktemp("flame")
    script = work / "spin.py"
    script.write_text(SCRIPT)
    out = work / "profiles" / "spin.folded"
    rec = record_command([sys.executable, str(script)], out, rate=200, subprocesses=True, idle=True)
    assert rec.returncode == 0 and rec.samples > 100, rec.profiler_output[-500:]
    return render_artifacts(out, title="spin (200 Hz)")


def _frame(name: str) -> str:
    """JavaScript for the frame group whose tooltip starts with `name (`."""
    prefix = json.dumps(name + " (")
    return f"[...document.querySelectorAll('g.f')].find(g => g.querySelector('title').textContent.startsWith({prefix}))"


def _centre(browser: Browser, element: str) -> tuple[float, float]:
    box = browser.js(
        f"(() => {{ const r = ({element}).getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }})()"
    )
    return box[0] + box[2] / 2, box[1] + box[3] / 2


def _rect(browser: Browser, name: str) -> dict[str, Any]:
    return browser.js(
        f"(() => {{ const g = {_frame(name)}; const r = g.querySelector('rect'); return {{x: +r.getAttribute('x'), "
        "width: +r.getAttribute('width'), fill: r.getAttribute('fill'), shown: getComputedStyle(g).display !== 'none', "
        "classes: g.getAttribute('class'), s: +g.dataset.s, v: +g.dataset.v}; })()"
    )


def _shown(browser: Browser, selector: str) -> bool:
    return bool(browser.js(f"getComputedStyle(document.querySelector({json.dumps(selector)})).display !== 'none'"))


def test_search_highlights_the_matching_frames_and_reports_their_share(
    browser: Browser, recorded: dict[str, Path]
) -> None:
    browser.open(recorded["svg"].as_uri())
    assert "js" in browser.js("document.documentElement.getAttribute('class')").split()
    assert _shown(browser, ".search") and not _shown(browser, ".reset")
    before = _rect(browser, "idle_wait")["fill"]

    browser.click(*_centre(browser, "document.querySelector('.search')"), answer_prompt="encode_pay")
    assert _rect(browser, "encode_payload")["fill"] == HIGHLIGHT
    assert _rect(browser, "idle_wait")["fill"] == before
    hits = browser.js("[...document.querySelectorAll('g.f.match')].map(g => g.querySelector('title').textContent)")
    assert hits and all(t.startswith("encode_payload (") for t in hits)
    stacks = load_stacks(recorded["folded"])
    share = sum(n for s, n in stacks.items() if "encode_payload (" in s) / folded.total(stacks) * 100
    matched = browser.js("document.querySelector('.matched').textContent")
    assert matched.startswith(f"Matched: {share:.1f}% of samples"), (matched, share)
    browser.screenshot("search.png")

    assert browser.js("document.querySelector('.search').textContent") == "Reset search"
    browser.click(*_centre(browser, "document.querySelector('.search')"))
    assert _rect(browser, "encode_payload")["fill"] != HIGHLIGHT
    assert browser.js("document.querySelectorAll('g.f.match').length") == 0


def test_a_click_zooms_to_the_frame_and_reset_restores_the_whole_profile(
    browser: Browser, recorded: dict[str, Path]
) -> None:
    browser.open(recorded["svg"].as_uri())
    whole = _rect(browser, "encode_payload")
    child = _rect(browser, "dumps")  # called by encode_payload
    assert whole["shown"] and whole["width"] < WIDTH / 2

    browser.click(*_centre(browser, f"({_frame('encode_payload')}).querySelector('rect')"))
    zoomed = _rect(browser, "encode_payload")
    full = WIDTH - 2 * PAD
    assert zoomed["x"] == pytest.approx(PAD, abs=0.01) and zoomed["width"] == pytest.approx(full - 0.5, abs=0.01)
    assert _rect(browser, "dumps")["width"] == pytest.approx(child["v"] / whole["v"] * full - 0.5, abs=0.02)
    assert not _rect(browser, "idle_wait")["shown"]  # another thread: outside the zoomed frame
    module = _rect(browser, "<module>")  # an ancestor: kept above, full width, dimmed
    assert module["shown"] and "anc" in module["classes"] and module["width"] == pytest.approx(full - 0.5, abs=0.01)
    assert _shown(browser, ".reset")
    label = browser.js(f"({_frame('encode_payload')}).querySelector('text').textContent")
    assert label == "encode_payload"  # relabelled at its new width
    browser.screenshot("zoom.png")

    browser.click(*_centre(browser, "document.querySelector('.reset')"))
    assert _rect(browser, "encode_payload")["width"] == pytest.approx(whole["width"], abs=0.01)
    assert _rect(browser, "idle_wait")["shown"] and not _shown(browser, ".reset")


def test_a_search_in_the_url_is_run_on_opening(browser: Browser, recorded: dict[str, Path]) -> None:
    browser.open(recorded["svg"].as_uri() + "?s=idle_wait")
    assert _rect(browser, "idle_wait")["fill"] == HIGHLIGHT
    assert browser.js("document.querySelector('.matched').textContent").startswith("Matched: ")


def test_without_scripts_the_same_picture_renders_without_buttons(browser: Browser, recorded: dict[str, Path]) -> None:
    browser.open(recorded["svg"].as_uri(), scripts=False)
    try:
        assert "js" not in (browser.js("document.documentElement.getAttribute('class')") or "").split()
        assert not _shown(browser, ".search") and not _shown(browser, ".reset")
        frame = _rect(browser, "encode_payload")
        assert frame["shown"] and frame["width"] > 50
        assert browser.js(f"({_frame('encode_payload')}).querySelector('text').textContent") == "encode_payload"
        browser.screenshot("no-script.png")
    finally:
        browser.open("about:blank")  # scripts back on for the other tests


def test_the_working_view_leaves_idle_out_and_says_what_it_kept(browser: Browser, recorded: dict[str, Path]) -> None:
    browser.open(recorded["working_svg"].as_uri())
    title = browser.js("document.querySelector('.title').textContent")
    assert " — working time: " in title and "idle stacks left out" in title
    stacks = load_stacks(recorded["folded"])
    kept = browser.js("+document.querySelector('g.f').dataset.v")
    assert f"{kept} of {folded.total(stacks)} samples" in title and 0 < kept < folded.total(stacks)
    assert browser.js(f"!{_frame('idle_wait')}")  # the sleeping thread is gone
    assert _rect(browser, "encode_payload")["shown"]
    links = browser.js("[...document.querySelectorAll('a')].map(a => a.getAttribute('href'))")
    assert links == ["spin.svg", "spin.speedscope.json"]
    assert json.loads(recorded["speedscope"].read_text())["profiles"][0]["type"] == "sampled"
    browser.screenshot("working.png")


def test_a_diff_of_a_profile_with_itself_is_grey_and_zooms_too(browser: Browser, recorded: dict[str, Path]) -> None:
    stacks = load_stacks(recorded["folded"])
    diff = recorded["folded"].with_name("diff-spin.svg")
    diff.write_text(flamegraph.render_diff_svg([stacks], [stacks], title="spin: A/A"))
    browser.open(diff.as_uri())
    fills = browser.js("[...document.querySelectorAll('g.f rect')].map(r => r.getAttribute('fill'))")
    assert fills and set(fills) == {flamegraph.NOT_SIGNIFICANT}
    browser.click(*_centre(browser, f"({_frame('encode_payload')}).querySelector('rect')"))
    assert _rect(browser, "encode_payload")["width"] == pytest.approx(WIDTH - 2 * PAD - 0.5, abs=0.01)
    browser.screenshot("diff-aa.png")
