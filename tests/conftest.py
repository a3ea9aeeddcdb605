"""Shared fixtures: one real PostgreSQL for the session, a clean table for every test.

TEST_DATABASE_URL, when set, names a database the suite may empty at will; otherwise the suite
starts a throwaway embedded PostgreSQL in a temporary folder, far from the dev data in .devdb/.
"""

import os
import shutil
import tempfile
from pathlib import Path

import psycopg2
import pytest

import config
import migrate
from app import create_app
from embedded_postgres import EmbeddedPostgres

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def postgres():
    """The suite's own embedded server (tests that stop and start the database need one)."""
    data = Path(tempfile.mkdtemp(prefix="comments-test-pg-"))
    server = EmbeddedPostgres(data / "data")
    server.start()
    yield server
    server.stop("immediate")
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(request) -> str:
    url = os.environ.get("TEST_DATABASE_URL") or request.getfixturevalue("postgres").url
    migrate.migrate(url)
    return url


def settings_for(database_url: str, **overrides: str) -> config.Config:
    """Settings as the service would read them, from a controlled environment only."""
    return config.from_environment({"DATABASE_URL": database_url, **overrides})


def empty_tables(database_url: str) -> None:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute("TRUNCATE comments RESTART IDENTITY")
    conn.close()


@pytest.fixture
def clean_database(database_url) -> str:
    empty_tables(database_url)
    return database_url


@pytest.fixture
def app(clean_database):
    app = create_app(settings_for(clean_database))
    yield app
    app.extensions["comments_db"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def post(client):
    """POST a JSON comment; returns the response."""

    def post(**fields):
        return client.post("/comments", json=fields)

    return post
