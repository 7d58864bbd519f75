"""py-spy capture with the real py-spy over real processes: record, attach for a window, errors that say the fix."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from baseline.profiling import folded
from baseline.profiling.capture import (
    INSTALL_HINT,
    ProfilerError,
    ProfilerUnavailable,
    find_py_spy,
    normalize_folded,
    profile_window,
    profile_windows,
    record_command,
)

pytestmark = pytest.mark.timeout(120)

RATE = 100

SPINNER = """
import sys, time

def spin_in_known_function(seconds):
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end:
        x += 1
    return x

spin_in_known_function(float(sys.argv[1]))
sys.exit(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
"""


@pytest.fixture
def spinner(tmp_path: Path) -> Path:
    path = tmp_path / "spinner.py"
    path.write_text(SPINNER)
    return path


@pytest.fixture
def running(spinner: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, str(spinner), "30"])
    time.sleep(0.3)  # past interpreter start-up, inside the hot loop
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _frames(path: Path) -> str:
    return path.read_text()


def test_record_command_captures_hot_function_and_keeps_exit_code_apart(spinner: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "spin.folded"
    rec = record_command([sys.executable, str(spinner), "1.0", "3"], out, rate=100)
    assert rec.returncode == 3  # the command's own exit code ...
    assert rec.profiler_returncode == 0  # ... apart from py-spy's
    assert rec.samples > 20  # ~100 at 100 Hz on an idle machine
    stacks = folded.parse(out.read_text())
    hot = sum(n for s, n in stacks.items() if s.split(";")[-1].startswith("spin_in_known_function"))
    assert hot / folded.total(stacks) > 0.5
    assert ":" not in stacks and "baseline-profiled" not in out.read_text()  # no line numbers, no wrapper frame
    assert all(s.startswith('process "python') for s in stacks)

    from baseline.profiling.artifacts import render_artifacts

    paths = render_artifacts(out, title="spinner")
    svg = paths["svg"].read_text()
    assert svg.lstrip().startswith("<?xml") and "spin_in_known_function" in svg
    analysis = json.loads(paths["hotpaths_json"].read_text())
    assert analysis["top_self"][0]["frame"].startswith("spin_in_known_function")
    speedscope = json.loads(paths["speedscope"].read_text())
    assert sum(speedscope["profiles"][0]["weights"]) == folded.total(stacks)
    assert "spin_in_known_function" in paths["hotpaths_md"].read_text()


def test_record_command_output_is_captured(tmp_path: Path) -> None:
    code = "import time; time.sleep(0.5); print('hello from the child')"
    rec = record_command([sys.executable, "-c", code], tmp_path / "x.folded", idle=True)
    assert rec.returncode == 0 and rec.profiler_returncode == 0
    assert "hello from the child" in rec.stdout
    assert "py-spy>" in rec.profiler_output and "py-spy>" not in rec.stdout
    assert rec.samples >= 20  # a sleeping child is sampled: idle frames kept with idle=True


def test_command_too_short_to_sample_keeps_its_exit_code_and_an_empty_profile(tmp_path: Path) -> None:
    rec = record_command(["sh", "-c", "exit 4"], tmp_path / "x.folded")
    assert rec.returncode == 4
    assert rec.profiler_returncode != 0  # py-spy found no Python process to sample
    assert rec.samples == 0 and (tmp_path / "x.folded").read_text() == ""


def test_window_attached_to_running_process_has_samples(running: subprocess.Popen[bytes], tmp_path: Path) -> None:
    before = time.monotonic()
    with profile_window({"spinner": running.pid}, tmp_path, rate=RATE, prefix="t-") as window:
        entered = time.monotonic()
        time.sleep(1.0)
    assert entered - before < 10
    path = tmp_path / "t-spinner.folded"
    stacks = folded.parse(path.read_text())
    hot = sum(n for s, n in stacks.items() if "spin_in_known_function" in s)
    assert hot >= 20, stacks  # ~100 at 100 Hz on an idle machine
    assert window.files["spinner"]["folded"] == path
    for kind in ("svg", "speedscope", "hotpaths_json", "hotpaths_md", "capture"):
        assert window.files["spinner"][kind].exists(), kind
    assert window.samples["spinner"] >= 20
    assert window.notes == [] and window.exited == []
    assert 0.9 < window.seconds < 5
    capture = json.loads(window.files["spinner"]["capture"].read_text())
    assert capture["pid"] == running.pid and capture["idle"] is True and capture["exited_during_capture"] is False


def test_windows_add_up_into_one_profile_per_role(running: subprocess.Popen[bytes], tmp_path: Path) -> None:
    with profile_windows({"spinner": running.pid}, tmp_path, rate=RATE, prefix="t-") as windows:
        with windows.window():
            time.sleep(0.6)
        time.sleep(1.5)  # between windows: not sampled, not counted
        with windows.window():
            time.sleep(0.6)
        assert windows.result.files == {}  # rendered once, when the outer block ends
    result = windows.result
    assert 1.1 < result.seconds < 3.0
    stacks = folded.parse((tmp_path / "t-spinner.folded").read_text())
    assert folded.total(stacks) == result.samples["spinner"]
    assert 60 <= result.samples["spinner"] <= 200  # two windows of ~0.6 s at 100 Hz, not the 2.7 s in between
    assert sorted(p.name for p in tmp_path.glob("t-spinner*.folded")) == ["t-spinner.folded"]
    capture = json.loads(result.files["spinner"]["capture"].read_text())
    assert capture["windows"] == 2 and capture["samples"] == result.samples["spinner"]


def test_process_exiting_mid_window_is_noted_and_profile_kept(spinner: Path, tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, str(spinner), "0.6"])
    time.sleep(0.2)
    try:
        with profile_window({"short": proc.pid}, tmp_path, rate=RATE, prefix="t-") as window:
            time.sleep(1.5)
    finally:
        proc.wait(timeout=10)
    assert "short exited during capture" in window.notes
    assert window.exited == ["short"]
    stacks = folded.parse((tmp_path / "t-short.folded").read_text())
    assert sum(n for s, n in stacks.items() if "spin_in_known_function" in s) > 10
    assert "short exited during capture" in (tmp_path / "t-short.hotpaths.md").read_text()
    assert json.loads((tmp_path / "t-short.capture.json").read_text())["exited_during_capture"] is True


def test_window_on_own_process_samples_the_caller(tmp_path: Path) -> None:
    def bench_hot_loop_for_self_profile(seconds: float) -> int:
        end, x = time.monotonic() + seconds, 0
        while time.monotonic() < end:
            x += 1
        return x

    with profile_window({"bench": os.getpid()}, tmp_path, rate=RATE, prefix="sql-") as window:
        bench_hot_loop_for_self_profile(1.0)
    text = (tmp_path / "sql-bench.folded").read_text()
    assert "bench_hot_loop_for_self_profile" in text
    stacks = folded.parse(text)
    own = sum(n for s, n in stacks.items() if "profiling/capture.py" in s)
    # Only the attach/stop edges of the window, no thread of the capture running through it.
    assert own / folded.total(stacks) < 0.1, own
    capture = json.loads(window.files["bench"]["capture"].read_text())
    assert capture["subprocesses"] is False  # our children (maybe the services) are profiled on their own


def test_missing_py_spy_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ProfilerUnavailable, match="pip install py-spy") as info:
        find_py_spy(search_path=str(tmp_path))
    assert str(info.value) == INSTALL_HINT
    monkeypatch.setenv("BASELINE_PY_SPY", str(tmp_path / "no-such-py-spy"))
    with (
        pytest.raises(ProfilerUnavailable, match=r"BASELINE_PY_SPY=.*pip install \.\[profile\]"),
        profile_window({"x": os.getpid()}, tmp_path, rate=RATE),
    ):
        pass
    with pytest.raises(ProfilerUnavailable, match="pip install py-spy"):
        record_command(["true"], tmp_path / "x.folded")


def test_not_a_python_process_is_a_clear_error(tmp_path: Path) -> None:
    proc = subprocess.Popen(["sleep", "30"])
    try:
        with (
            pytest.raises(ProfilerError, match=r"sleeper \(pid \d+\).*python"),
            profile_window({"sleeper": proc.pid}, tmp_path, rate=RATE),
        ):
            pass
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runuser"), reason="needs root to drop to `nobody`")
def test_attach_without_ptrace_rights_says_how_to_fix(running: subprocess.Popen[bytes]) -> None:
    # A real denial: py-spy running as `nobody` may not ptrace our root-owned process.
    folder = Path(tempfile.mkdtemp(prefix="baseline-test-pyspy-"))
    try:
        folder.chmod(0o755)
        binary = folder / "py-spy"
        shutil.copy(find_py_spy(), binary)
        binary.chmod(0o755)
        wrapper = folder / "py-spy-as-nobody"
        wrapper.write_text(f'#!/bin/sh\ncd /tmp && exec runuser -u nobody -- {binary} "$@"\n')
        wrapper.chmod(0o755)
        out = folder / "out"
        out.mkdir(mode=0o777)
        out.chmod(0o777)
        with (
            pytest.raises(ProfilerUnavailable, match=r"ptrace denied.*SYS_PTRACE"),
            profile_window({"api": running.pid}, out, rate=RATE, py_spy=str(wrapper)),
        ):
            pass
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------------------------------------------------ pure: normalize


def test_normalize_drops_wrapper_and_pids_and_secrets() -> None:
    raw = (
        'process 11:"/bin/sh -c e=$1 o=$2 && shift 2 && x baseline-profiled /t/e /t/o python -m pytest";'
        'process 12:"/usr/bin/python3 -m pytest tests/lifecycle -q";<module> (a.py);f (a.py) 5\n'
        'process 13:"/v/bin/python /v/bin/tasker worker --dsn postgresql://u:secret@h/db";g (w.py) 2\n'
        'process 14:"python -c import x\nspin()";h (<string>) 1\n'
        "plain (b.py);leaf (b.py) 3\n"
        'process 15:"/usr/bin/python3 -m pytest tests/lifecycle" 4\n'
        'process 11:"/bin/sh -c e=$1 baseline-profiled /t/e /t/o python" 6\n'
        'process 11:"";process 12:"/usr/bin/python3 -m pytest tests/lifecycle -q";<module> (a.py);f (a.py) 2\n'
    )
    text = normalize_folded(raw)
    stacks = folded.parse(text)
    assert stacks == {
        'process "python3 -m pytest lifecycle";<module> (a.py);f (a.py)': 7,  # 2 under a wrapper read mid-exec
        'process "python tasker worker";g (w.py)': 2,
        'process "python";h (<string>)': 1,
        "plain (b.py);leaf (b.py)": 3,
        'process "python3 -m pytest lifecycle"': 4,
    }
    assert "secret" not in text and "baseline-profiled" not in text


def test_the_command_read_before_its_exec_keeps_a_frame_for_its_children() -> None:
    # py-spy may read the command's /proc/PID/cmdline between the wrapper's fork and the exec (seen in 2 of 20
    # record_command runs): the command then carries the wrapper's command line.
    wrapper = 'process 11:"/bin/sh -c e=$1 baseline-profiled /t/e /t/o python spin.py"'
    raw = (
        f"{wrapper};{wrapper.replace('11', '12')};<module> (spin.py) 5\n"
        f'{wrapper};{wrapper.replace("11", "12")};process 13:"/v/bin/python child.py";<module> (child.py) 2\n'
    )
    stacks = folded.parse(normalize_folded(raw, ["/v/bin/python", "spin.py", "--fast"]))
    assert stacks == {
        'process "python spin.py";<module> (spin.py)': 5,
        'process "python spin.py";process "python child.py";<module> (child.py)': 2,
    }
    assert 'process "the profiled command";<module> (spin.py)' in normalize_folded(raw)
    # Analysed, it reads like a run where py-spy read the command line after the exec.
    assert folded.normalize(stacks) == {
        "<module> (spin.py)": 5,
        'subprocess "python child.py";<module> (child.py)': 2,
    }


KILLED_BENCH = """
import os, sys, time
from pathlib import Path
from types import SimpleNamespace
from baseline.profiling.capture import profile_window

window = profile_window({"svc": int(sys.argv[1])}, Path(sys.argv[2]), rate=100)
window.__enter__()
time.sleep(0.5)  # some samples, then the bench dies inside its window
os.kill(os.getpid(), 9)
"""


def test_py_spy_stops_and_writes_when_the_bench_is_killed(running: subprocess.Popen[bytes], tmp_path: Path) -> None:
    script = tmp_path / "killed_bench.py"
    script.write_text(KILLED_BENCH)
    # TMPDIR: the killed bench cannot remove its py-spy log folder; it goes with tmp_path instead of piling up in /tmp.
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    bench = subprocess.run(
        [sys.executable, str(script), str(running.pid), str(tmp_path)], timeout=60, check=False, env=env
    )
    assert bench.returncode == -9
    out = tmp_path / "e2e-svc.folded"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not (out.exists() and out.stat().st_size > 0):
        time.sleep(0.1)
    assert "spin_in_known_function" in out.read_text()  # py-spy got SIGINT on its parent's death and wrote


def test_window_without_processes_is_a_noted_no_op(tmp_path: Path) -> None:
    with profile_window({}, tmp_path, rate=RATE) as window:
        pass
    assert window.files == {} and "no local process to profile" in window.notes[0]
    assert list(tmp_path.iterdir()) == []


def test_cpu_seconds_counts_a_processs_threads_and_is_none_once_it_is_gone() -> None:
    from baseline.procfs import threads_cpu_seconds as _cpu_seconds

    code = "import time\nt = time.process_time() + 0.3\nwhile time.process_time() < t: pass\ntime.sleep(30)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 20
        used = _cpu_seconds(proc.pid) or 0.0
        while used < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
            used = _cpu_seconds(proc.pid) or 0.0
        assert 0.3 <= used < 5
    finally:
        proc.kill()
        proc.wait()
    assert _cpu_seconds(proc.pid) is None
