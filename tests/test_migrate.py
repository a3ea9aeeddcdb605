"""The migration runner: idempotent, safe to run concurrently, forward only."""

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest

from store import migrate
from tests.conftest import scratch_database
from tests.service import ROOT


@pytest.fixture
def empty_database(database_url):
    with scratch_database(database_url, "comments_migrate_test") as url:
        yield url


def applied(url: str) -> list[str]:
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT version FROM schema_migrations ORDER BY version")
        versions = [v for (v,) in cursor.fetchall()]
    conn.close()
    return versions


def test_applies_everything_once_then_nothing(empty_database):
    everything = list(migrate.available())
    assert migrate.migrate(empty_database) == everything
    assert migrate.migrate(empty_database) == []
    assert applied(empty_database) == everything


def test_concurrent_runs_apply_each_migration_once(empty_database):
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: migrate.migrate(empty_database), range(6)))
    assert sorted(v for result in results for v in result) == sorted(migrate.available())
    assert applied(empty_database) == list(migrate.available())


def test_listing_queries_use_an_index(database_url):
    """Both listings walk an index in id order instead of sorting the table."""
    with psycopg2.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        plans = []
        for where in ("WHERE thread = 'a' AND id > 5", "WHERE id > 5"):
            cursor.execute(f"EXPLAIN SELECT * FROM comments {where} ORDER BY id DESC LIMIT 21")
            plans.append(" ".join(line for (line,) in cursor.fetchall()))
    conn.close()
    for plan in plans:
        assert "Index Scan" in plan and "Sort" not in plan, plan


def test_migrate_command_fails_cleanly_without_a_database():
    result = subprocess.run(
        [sys.executable, "-m", "store.migrate"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgresql://nobody:secret@127.0.0.1:1/none"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    (line,) = result.stdout.strip().splitlines()
    assert '"cannot reach the database' in line and "Traceback" not in result.stderr
    assert "secret" not in line
