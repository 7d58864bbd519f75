"""report.html opened in a real headless browser (Debian's chromium): the summary table is in the DOM."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from baseline import store
from baseline.config import Config
from baseline.results import read_result
from baseline.summary import write_summary

CASES = {
    "sql/get_next_ready_tasks/batch_size=10": [800_000, 820_000, 790_000, 805_000],
    "e2e/linear": [12_000_000, 12_500_000, 11_800_000, 12_100_000],
    "e2e/diamond <&> escaped": [10_000_000, 10_400_000, 9_900_000, 10_050_000],
}


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("chromium is not installed: apt-get update && apt-get install -y chromium (the CI's .ci/run does)")
    return found


def dump_dom(url: str) -> str:
    profile = tempfile.mkdtemp(prefix="baseline-chromium-")
    try:
        out = subprocess.run(
            [
                chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=90,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


class TableRows(HTMLParser):
    """First-cell texts of the rows of the table with a given id, as the browser's DOM holds them."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.depth, self.rows = table_id, 0, []
        self.cell: list[str] | None = None
        self.first_cell_done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and (self.depth or dict(attrs).get("id") == self.table_id):
            self.depth += 1
        elif self.depth and tag == "tr":
            self.first_cell_done = False
        elif self.depth and tag == "td" and not self.first_cell_done:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.depth:
            self.depth -= 1
        elif tag == "td" and self.cell is not None:
            self.rows.append("".join(self.cell))
            self.cell, self.first_cell_done = None, True

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def test_summary_table_rows_render_in_chromium(tmp_path: Path) -> None:
    root = Path(tempfile.mkdtemp(prefix="baseline-report-"))  # readable by chromium whatever pytest's tmp mode
    try:
        for run in (1, 2):
            config = Config(project_root=root, output_dir=root, workdir=root, label="pre", run=run)
            for cid, samples in CASES.items():
                phase = cid.split("/")[0]
                case = {"id": cid, "unit": "ns", "samples": [s * (1 + 0.01 * run) for s in samples], "summary": {}}
                path = config.run_dir / f"{phase}.json"
                existing = read_result(path)["cases"] if path.exists() else []
                store.write_result(config, phase, [*existing, case], environment={"machine": {"cpu_count": 2}})
        write_summary(root / "pre", cv_threshold=0.1)
        dom = dump_dom((root / "pre" / "report.html").as_uri())
        parser = TableRows("summary-table")
        parser.feed(dom)
        assert parser.rows == list(CASES)
        assert "<svg" in dom and "E2E latency, all runs pooled" in dom
    finally:
        shutil.rmtree(root, ignore_errors=True)
