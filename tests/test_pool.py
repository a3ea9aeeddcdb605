"""Connections: reused across requests, created after fork, replaced when broken."""

import os
import time

import psycopg2

from db import CommentDatabase


def backend_pid(database: CommentDatabase) -> int:
    return database._run("SELECT pg_backend_pid()", (), one=True)[0]


def make_database(url: str, size: int = 2) -> CommentDatabase:
    return CommentDatabase(url, pool_size=size, connect_timeout=2, statement_timeout_ms=2000, pool_timeout=2)


def test_requests_reuse_one_connection(app, client, post):
    database = app.extensions["comments_db"]
    post(name="a", comment="b")
    first = backend_pid(database)
    for _ in range(20):
        assert client.get("/comments").status_code == 200
    assert backend_pid(database) == first


def test_pool_is_created_lazily_and_per_process(database_url, monkeypatch):
    database = make_database(database_url)
    assert database._pools == {}  # nothing opened until first use
    first = backend_pid(database)
    monkeypatch.setattr("os.getpid", lambda: -1)  # as if this were a forked child
    assert backend_pid(database) != first  # the child opens its own connection
    database.close()


def test_a_killed_connection_is_discarded_and_replaced(database_url, clean_database):
    database = make_database(database_url)
    victim = backend_pid(database)
    with psycopg2.connect(database_url) as admin, admin.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", (victim,))
        deadline = time.monotonic() + 5
        while True:  # until the server has ended it (and so told the idle connection)
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (victim,))
            if cursor.fetchone() == (0,) or time.monotonic() > deadline:
                break
            time.sleep(0.02)
    admin.close()
    # The pool notices the dead idle connection before using it: no request sees an error.
    replacement = backend_pid(database)
    assert replacement != victim
    assert backend_pid(database) == replacement
    database.close()


def test_statement_timeout_keeps_the_connection(database_url):
    from core.exceptions import DatabaseUnavailable

    database = CommentDatabase(database_url, pool_size=1, connect_timeout=2, statement_timeout_ms=100, pool_timeout=2)
    before = backend_pid(database)
    try:
        database._run("SELECT pg_sleep(1)", ())
        raise AssertionError("the statement timeout did not fire")
    except DatabaseUnavailable:
        pass
    assert backend_pid(database) == before
    database.close()


def test_connections_numbered_past_1024_are_watched_too(database_url):
    """A busy threaded worker holds many sockets; the idle check must work at any fd number
    (select() raises for descriptors of 1024 and more)."""
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        database = make_database(database_url)
        first = backend_pid(database)
        assert database._get_pool()._idle[0].fileno() >= 1024
        assert backend_pid(database) == first  # reused: the idle check ran on fd >= 1024
        database.close()
    finally:
        for descriptor in filler:
            os.close(descriptor)
