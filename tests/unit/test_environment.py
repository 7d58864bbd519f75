"""Fingerprint parsers on fixed text, and a fingerprint that carries the config but never a password."""

from __future__ import annotations

import json
from pathlib import Path

from baseline.config import load_config
from baseline.environment import fingerprint, parse_git_status
from baseline.procfs import parse_cpu_ticks, parse_cpuinfo, parse_meminfo

CPUINFO_X86 = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n"
CPUINFO_ARM = "processor\t: 0\nBogoMIPS\t: 48.00\n\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B\n"


def test_parse_cpuinfo() -> None:
    assert parse_cpuinfo(CPUINFO_X86) == "Intel(R) Xeon(R) CPU @ 2.20GHz"
    assert parse_cpuinfo(CPUINFO_ARM) == "Raspberry Pi 4 Model B"
    assert parse_cpuinfo("") is None


def test_parse_meminfo() -> None:
    assert parse_meminfo("MemTotal:       16318412 kB\nMemFree: 1 kB\n") == 16318412 * 1024
    assert parse_meminfo("nothing here") is None


def test_parse_cpu_ticks() -> None:
    # user nice system idle iowait irq softirq steal guest guest_nice
    assert parse_cpu_ticks("cpu  10 0 5 80 1 0 1 3 0 0\ncpu0 1 2 3\n") == {"cpu_ticks": 100, "steal_ticks": 3}
    assert parse_cpu_ticks("") == {}


def test_parse_git_status() -> None:
    assert parse_git_status("") is False
    assert parse_git_status("?? new_untracked.py\n") is False
    assert parse_git_status(" M src/x.py\n?? y\n") is True


def test_fingerprint_without_database(tmp_path: Path) -> None:
    args = {"services": "external", "dsn": "postgresql://bob:hunter2@db:5432/app", "api_url": "http://a:1"}
    config = load_config(args, environ={}, cwd=tmp_path)
    fp = fingerprint(None, config)
    assert fp["machine"]["cpu_count"] >= 1
    assert fp["python"]["version"].startswith("3.")
    assert fp["python"]["packages"]["psycopg"]
    assert fp["postgres"] is None
    assert fp["config"]["dsn"] == "postgresql://bob@db:5432/app"
    assert "hunter2" not in json.dumps(fp)
    assert set(fp["git"]) == {"commit", "dirty"}


def test_unreachable_database_is_recorded_not_raised(tmp_path: Path) -> None:
    from baseline.services.postgres import free_port

    config = load_config(None, environ={}, cwd=tmp_path)
    fp = fingerprint(f"postgresql://u:pw@127.0.0.1:{free_port()}/db", config)
    assert fp["postgres"]["error"].endswith("unreachable")
    assert fp["postgres"]["dsn"].startswith("postgresql://u@127.0.0.1:")
    assert "pw" not in json.dumps(fp["postgres"])
