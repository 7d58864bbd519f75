"""Only one harness process at a time may start, own or stop the services of a work dir."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from baseline.config import load_config
from baseline.services.control import down, workdir_lock
from baseline.services.model import StackError


def test_second_process_is_told_who_holds_the_services(tmp_path: Path) -> None:
    env = {"BASELINE_WORKDIR": str(tmp_path / "work"), "BASELINE_OUTPUT_DIR": str(tmp_path / "profiles")}
    code = textwrap.dedent(
        """
        import time
        from baseline.config import load_config
        from baseline.services.control import workdir_lock
        with workdir_lock(load_config()):
            print("holding", flush=True)
            time.sleep(60)
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env={**os.environ, **env}, cwd=tmp_path
    )
    config = load_config(None, environ=env, cwd=tmp_path)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(StackError, match=rf"another harness process \(pid {holder.pid}\)"):
            down(config)
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert down(config) is False  # free again once the holder is gone


def test_lock_is_reentrant_within_a_process(tmp_path: Path) -> None:
    config = load_config(None, environ={"BASELINE_WORKDIR": str(tmp_path / "w")}, cwd=tmp_path)
    with workdir_lock(config), workdir_lock(config):
        assert down(config) is False
    assert (tmp_path / "w" / ".stack.lock").read_text() == ""
