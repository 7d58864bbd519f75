"""A system under test from a user's own package: installed into a fresh venv, found through the
`baseline.targets` entry point, and benched like the built-in target, without editing this project."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TOY = ROOT / "tests" / "fixtures" / "toy_target"


@pytest.fixture(scope="module")
def toy_venv() -> Iterator[tuple[Path, Path]]:
    """A new venv that sees this environment's packages (the harness and its dependencies) through a .pth file
    and has the toy target installed into it by pip, as a user would install their own package."""
    top = Path(tempfile.mkdtemp(prefix="baseline-toy-"))
    top.chmod(0o755)  # the embedded cluster's server account must enter it
    venv = top / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # addsitedir, not a bare path: the harness's own editable-install .pth files must be read too.
    Path(purelib, "harness.pth").write_text(f"import site; site.addsitedir({site.getsitepackages()[0]!r})\n")
    source = top / "toy_target"
    shutil.copytree(TOY, source)
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    try:
        yield python, top
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_the_entry_point_lists_both_targets(toy_venv: tuple[Path, Path]) -> None:
    python, _ = toy_venv
    listing = subprocess.run(
        [str(python), "-c", "from baseline.targets import installed_targets; print(sorted(installed_targets()))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert listing.stdout.strip() == "['tasker', 'toy']"


def test_a_bench_runs_against_the_plugin_target(toy_venv: tuple[Path, Path]) -> None:
    python, top = toy_venv
    env = {
        **os.environ,
        "BASELINE_WORKDIR": str(top / "work"),
        "BASELINE_OUTPUT_DIR": str(top / "out"),
        "BASELINE_SAMPLES_SQL": "12",
        "BASELINE_WARMUP": "2",
    }
    env.pop("BASELINE_LABEL_LOCK", None)
    try:
        proc = subprocess.run(
            [
                str(python),
                "-m",
                "baseline.cli",
                "sql-bench",
                "--target",
                "toy",
                "--label",
                "toy",
                "--quick",
                "--scale",
                "50",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        doc = json.loads((top / "out" / "toy" / "run-1" / "sql.json").read_text())
        ids = {case["id"] for case in doc["cases"]}
        assert {"sql/toy_next/batch_size=5", "sql/toy_count/all", "sql/calibrate/harness/toy_count"} <= ids
        assert all(len(case["samples"]) == 12 for case in doc["cases"] if case["id"].startswith("sql/toy_"))
        assert doc["environment"]["config"]["target"] == "toy"
        assert len(doc["provenance"]["workload"]) == 64
        assert "toy_next" in proc.stdout  # the bench's own result lines
        plan = json.loads((top / "out" / "toy" / "run-1" / "explain" / "toy_next.json").read_text())
        assert plan["statement"] == "SELECT * FROM toy_next(%s)"
    finally:
        subprocess.run([str(python), "-m", "baseline.cli", "down", "--target", "toy"], cwd=ROOT, env=env, check=False)
