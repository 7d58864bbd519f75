"""Store guarantees across real processes: a killed writer never damages the old file; labels lock out others."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from baseline.config import load_config
from baseline.results import StoreError, read_json
from baseline.store import label_lock, update_manifest


def _spawn(code: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_writer_killed_mid_write_leaves_old_file(tmp_path: Path) -> None:
    target = tmp_path / "sql.json"
    target.write_text('{"v": "old"}\n')
    child = _spawn(
        f"""
        import os, sys, time
        from baseline import store
        def stuck(fd):
            print("writing", flush=True)
            time.sleep(60)
        store.os.fsync = stuck
        store.write_json_atomic({str(target)!r}, {{"v": "new", "samples": list(range(200000))}})
        """,
        tmp_path,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "writing"
        partial = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert partial and partial[0].stat().st_size > 100_000, "the new content was being written"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        child.kill()
    assert read_json(target) == {"v": "old"}


def test_label_lock_excludes_another_process(tmp_path: Path) -> None:
    config = load_config({"label": "pre"}, environ={}, cwd=tmp_path)
    holder = _spawn(
        """
        import sys, time
        from baseline.config import load_config
        from baseline.store import label_lock
        with label_lock(load_config({"label": "pre"}, environ={})):
            print("locked", flush=True)
            time.sleep(60)
        """,
        tmp_path,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked", holder.stderr.read() if holder.stderr else ""
        with pytest.raises(StoreError) as excinfo, label_lock(config):
            pass
        assert f"label pre is being written by another pipeline (pid {holder.pid})" in str(excinfo.value)
        with pytest.raises(StoreError):
            update_manifest(config, 1, status="complete")
    finally:
        holder.kill()
        holder.wait(timeout=10)
    update_manifest(config, 1, status="complete")  # the lock died with its holder
    assert read_json(config.label_dir / "manifest.json")["runs"]["1"]["status"] == "complete"


def test_child_of_the_lock_holder_may_write(tmp_path: Path) -> None:
    """A pipeline holds the label lock while the bench processes it starts write results into that label."""
    config = load_config({"label": "pre"}, environ={}, cwd=tmp_path)
    with label_lock(config):
        child = _spawn(
            """
            from baseline.config import load_config
            from baseline.store import update_manifest
            update_manifest(load_config({"label": "pre"}, environ={}), 1, phases={"sql": "ok"})
            """,
            tmp_path,
        )
        _, err = child.communicate(timeout=30)
        assert child.returncode == 0, err
    assert read_json(config.label_dir / "manifest.json")["runs"]["1"]["phases"] == {"sql": "ok"}
