"""A database the service can reach but not use as it is: read-only, not UTF-8, or a statement
that is simply wrong (a bug, which must not pass for "migrations pending")."""

import subprocess
import sys

import psycopg2
import pytest

import db
from app import create_app
from devtools.embedded_postgres import with_database
from store import migrate
from tests.conftest import _admin, scratch_database, settings_for
from tests.contract import assert_matches_openapi
from tests.service import ROOT


@pytest.fixture
def read_only_url(database_url):
    """A migrated database whose sessions are read-only, as on a standby after failover."""
    with scratch_database(database_url, "comments_read_only") as url:
        migrate.migrate(url)
        _admin(database_url, "ALTER DATABASE comments_read_only SET default_transaction_read_only = on")
        yield url


def test_a_read_only_database_is_503_with_retry_after_and_not_ready(read_only_url):
    app = create_app(settings_for(read_only_url))
    client = app.test_client()

    posted = client.post("/comments", json={"name": "a", "comment": "b"})
    assert posted.status_code == 503
    assert posted.get_json()["code"] == "database_unavailable"
    assert posted.headers["Retry-After"] == "1"
    assert_matches_openapi(posted, "/comments", "post")

    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["code"] == "database_unavailable"
    assert "read-only" in ready.get_json()["error"]
    assert client.get("/comments").status_code == 200  # reads still work
    app.extensions["comments_db"].close()


@pytest.fixture
def latin_url(database_url):
    """A database in SQL_ASCII, where 'café' cannot be stored as the client meant it."""
    _admin(database_url, "DROP DATABASE IF EXISTS comments_ascii")
    _admin(database_url, "CREATE DATABASE comments_ascii ENCODING 'SQL_ASCII' TEMPLATE template0")
    yield with_database(database_url, "comments_ascii")
    _admin(database_url, "DROP DATABASE comments_ascii WITH (FORCE)")


def test_migrate_refuses_a_database_that_is_not_utf8(latin_url):
    env = {"DATABASE_URL": latin_url, "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "store.migrate"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert "SQL_ASCII" in result.stdout and "UTF8" in result.stdout
    with psycopg2.connect(latin_url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT to_regclass('schema_migrations')")
        assert cursor.fetchone() == (None,), "nothing may be created in a refused database"
    conn.close()


def test_a_database_that_is_not_utf8_is_not_ready_and_refuses_requests(latin_url):
    app = create_app(settings_for(latin_url))
    client = app.test_client()
    for response in (client.get("/readyz"), client.post("/comments", json={"name": "a", "comment": "café"})):
        assert response.status_code == 503
        assert response.get_json()["code"] == "database_misconfigured"
        assert "SQL_ASCII" in response.get_json()["error"]


def test_a_wrong_statement_is_a_bug_not_a_pending_migration(clean_database, monkeypatch, caplog):
    monkeypatch.setattr(db, "_PREPARE", db._PREPARE + ";PREPARE broken AS SELEC 1")
    app = create_app(settings_for(clean_database))
    client = app.test_client()
    for path in ("/comments", "/readyz"):
        response = client.get(path)
        assert response.status_code == 500, path
        assert response.get_json()["code"] == "internal_error"
    logged_bugs = [record for record in caplog.records if record.exc_info]
    assert len(logged_bugs) == 2  # once per request
