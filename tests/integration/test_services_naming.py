"""Database naming for templates and run databases, and the cleanup of templates from an older schema."""

from __future__ import annotations

import re

import psycopg
import pytest

from baseline.services.embedded import drop_stale_templates as _drop_stale_templates
from baseline.services.embedded import run_database_name, template_name, with_database
from baseline.services.postgres import EmbeddedPostgres


def test_template_name_carries_what_makes_it_reusable() -> None:
    name = template_name("tasker", 5000, 42, "0123456789abcdef")
    assert re.fullmatch(r"tpl_tasker_5000_42_[0-9a-f]{8}", name)
    assert template_name("tasker", 5000, 42, "0123456789abcdee") != name  # another schema, another template
    assert template_name("tasker", 5000, 43, "0123456789abcdef") != name


def test_run_database_names_are_safe_identifiers() -> None:
    assert run_database_name("pre-refactor", 2) == "run_pre_refactor_2"
    long = run_database_name("x" * 64, 3)
    assert len(long) <= 63 and long.endswith("_3")
    assert run_database_name("a" * 64, 3) != run_database_name("a" * 63 + "b", 3)


def test_with_database() -> None:
    assert with_database("postgresql://postgres@127.0.0.1:5/run_a_1", "postgres") == (
        "postgresql://postgres@127.0.0.1:5/postgres"
    )


@pytest.mark.integration
def test_stale_templates_of_same_dataset_are_dropped(pg_cluster: EmbeddedPostgres) -> None:
    names = ["tpl_x_10_1_aaaa1111", "tpl_x_10_1_bbbb2222", "tpl_x_100_1_cccc3333"]
    for name in names:
        pg_cluster.create_database(name)
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute('ALTER DATABASE "tpl_x_10_1_aaaa1111" IS_TEMPLATE true')
    try:
        _drop_stale_templates(pg_cluster.dsn(), "tpl_x_10_1_bbbb2222")
        with psycopg.connect(pg_cluster.dsn()) as conn:
            left = {r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'tpl_x_%'")}
        assert left == {"tpl_x_10_1_bbbb2222", "tpl_x_100_1_cccc3333"}
    finally:
        for name in names:
            pg_cluster.drop_database(name)
