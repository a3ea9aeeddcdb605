"""Shared fixtures: one real PostgreSQL for the session, a clean table for every test.

TEST_DATABASE_URL, when set, names a database the suite may empty at will; otherwise the suite
starts a throwaway embedded PostgreSQL in a temporary folder, far from the dev data in .devdb/.
"""

import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import psycopg2
import pytest

import config
from app import create_app
from devtools.embedded_postgres import EmbeddedPostgres, with_database
from devtools.embedded_seaweedfs import EmbeddedSeaweedFS
from store import migrate


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
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        create_database_if_missing(url)
    else:
        url = request.getfixturevalue("postgres").url
    migrate.migrate(url)
    return url


def _admin(url: str, *statements: str, database: str = "postgres") -> list:
    """Run statements on another database of the same server; returns the last one's rows."""
    conn = psycopg2.connect(with_database(url, database))
    conn.autocommit = True
    rows = []
    with conn.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
            rows = cursor.fetchall() if cursor.description else []
    conn.close()
    return rows


def create_database_if_missing(url: str) -> None:
    """TEST_DATABASE_URL may name a database that does not exist yet (as in docker compose)."""
    name = urlsplit(url).path.lstrip("/")
    if not _admin(url, f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):
        _admin(url, f'CREATE DATABASE "{name}"')


@contextmanager
def scratch_database(url: str, name: str) -> Iterator[str]:
    """An empty database for one test, dropped afterwards; yields its URL."""
    _admin(url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    try:
        yield with_database(url, name)
    finally:
        _admin(url, f'DROP DATABASE "{name}" WITH (FORCE)')


# Tests generate their own secrets; the rate limit is off unless a test is about it.
TEST_ENVIRONMENT = {
    "SECRET_KEY": "test-secret-key-" + "x" * 32,
    "ADMIN_TOKEN": "test-admin-token-" + "a" * 32,
    "RATE_LIMIT_POSTS": "off",
}


def settings_for(database_url: str, **overrides: str) -> config.Config:
    """Settings as the service would read them, from a controlled environment only."""
    return config.from_environment({"DATABASE_URL": database_url, **TEST_ENVIRONMENT, **overrides})


def empty_tables(database_url: str) -> None:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "TRUNCATE comments, post_limits, moderation_log, thread_counts, outbox, deliveries, comment_media, media,"
            " idempotency_keys, imported_comments, moderators, admin_sessions, votes"
            " RESTART IDENTITY"
        )
    conn.close()


def query(database_url: str, sql: str, params=()) -> list[tuple]:
    """One statement, committed, on a connection of the test's own; its rows ([] for none)."""
    with psycopg2.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall() if cursor.description else []
    conn.close()
    return found


def wait_until(condition, timeout: float = 15, every: float = 0.05):
    """Until condition() is true (its value is returned), or fail after `timeout` seconds: for
    what another thread or process does, instead of a fixed sleep."""
    deadline = time.monotonic() + timeout
    while not (result := condition()) and time.monotonic() < deadline:
        time.sleep(every)
    assert result, "the condition was not met in time"
    return result


@pytest.fixture
def receiver():
    """A real webhook receiver on 127.0.0.1 (tests/receivers.py)."""
    from tests.receivers import Receiver

    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def mailbox():
    """A real SMTP server on 127.0.0.1 (aiosmtpd, tests/receivers.py)."""
    from tests.receivers import Mailbox

    mailbox = Mailbox()
    yield mailbox
    mailbox.close()


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


@pytest.fixture
def own_postgres():
    """A PostgreSQL of the test's own, migrated, that the test may stop and start."""
    folder = Path(tempfile.mkdtemp(prefix="comments-own-pg-"))
    server = EmbeddedPostgres(folder / "data")
    server.start()
    migrate.migrate(server.url)
    yield server
    server.stop("immediate")
    shutil.rmtree(folder, ignore_errors=True)


# --- the object store (images) ----------------------------------------------------------------

S3_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")


@contextmanager
def running_seaweedfs() -> Iterator[EmbeddedSeaweedFS]:
    """A SeaweedFS of the caller's own (tests that stop or freeze the store need one)."""
    folder = Path(tempfile.mkdtemp(prefix="comments-test-s3-"))
    store = EmbeddedSeaweedFS(folder)
    store.start()
    try:
        yield store
    finally:
        store.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_environment() -> Iterator[dict[str, str]]:
    """Where the suite's S3 store is: the one AWS_ENDPOINT_URL_S3 names (as in docker compose),
    or else a throwaway embedded SeaweedFS, started once for the session."""
    if os.environ.get("AWS_ENDPOINT_URL_S3"):
        yield {name: os.environ[name] for name in S3_VARIABLES if name in os.environ}
        return
    with running_seaweedfs() as store:
        yield store.environment


@pytest.fixture(scope="session")
def media_bucket(s3_environment) -> str:
    """One bucket for the session (a new bucket is a new SeaweedFS collection, slow to write first)."""
    name = f"test-{uuid.uuid4().hex[:20]}"
    migrate.prepare_bucket(
        config.from_environment({"DATABASE_URL": "postgresql://unused", **s3_environment, "MEDIA_BUCKET": name})
    )
    return name


@pytest.fixture
def media_environment(s3_environment, media_bucket) -> dict[str, str]:
    """The S3 variables and the suite's bucket, emptied for this test."""
    environment = {**s3_environment, "MEDIA_BUCKET": media_bucket}
    empty_bucket(environment)
    return environment


def s3_client(environment: dict):
    """A client of the test's own, to look at the bucket behind the service's back."""
    return boto3.client(
        "s3",
        endpoint_url=environment["AWS_ENDPOINT_URL_S3"],
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        region_name=environment.get("AWS_REGION", "us-east-1"),
    )


def stored_keys(environment: dict) -> set[str]:
    listing = s3_client(environment).list_objects_v2(Bucket=environment["MEDIA_BUCKET"])
    return {item["Key"] for item in listing.get("Contents", [])}


def empty_bucket(environment: dict) -> None:
    client = s3_client(environment)
    for key in stored_keys(environment):
        client.delete_object(Bucket=environment["MEDIA_BUCKET"], Key=key)


@pytest.fixture
def media_app(clean_database, media_environment):
    """The app with images switched on, against the real store."""
    app = create_app(settings_for(clean_database, **media_environment))
    yield app
    app.extensions["comments_db"].close()


@pytest.fixture
def media_client(media_app):
    return media_app.test_client()


@pytest.fixture
def json_lines(capsys):
    """Run an action with the service's JSON logging on; returns the lines it wrote.

    Logging is configured inside the call because pytest swaps sys.stdout between phases."""
    from core import logs

    def run(action) -> list[dict]:
        logs.configure("info")
        action()
        return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]

    yield run
    logging.getLogger().handlers.clear()
