"""The fingerprint reads PostgreSQL's version and latency-moving settings from a real server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baseline.config import load_config
from baseline.environment import PG_SETTINGS, fingerprint
from baseline.services.postgres import EmbeddedPostgres

pytestmark = pytest.mark.integration


def test_fingerprint_reads_server_settings(pg_cluster: EmbeddedPostgres, tmp_path: Path) -> None:
    fp = fingerprint(pg_cluster.dsn(), load_config(None, environ={}, cwd=tmp_path))
    postgres = fp["postgres"]
    assert postgres["server_version"].startswith(pg_cluster.version())
    for name in ("fsync", "synchronous_commit", "shared_buffers", "work_mem", "max_connections", "wal_sync_method"):
        assert name in postgres["settings"], name
    assert set(postgres["settings"]) <= set(PG_SETTINGS)
    assert postgres["settings"]["shared_buffers"] == "256MB"
    assert postgres["settings"]["max_connections"] == "200"
    json.dumps(fp)  # JSON-safe as written into every result
