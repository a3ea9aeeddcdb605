"""RATE_LIMIT_POSTS, counted in PostgreSQL: exact across processes, with an honest Retry-After,
and old state cleaned up without a cron job."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest
import requests

from app import create_app
from store import rate_limits
from tests.conftest import settings_for
from tests.service import Service


def test_fifty_simultaneous_posts_over_two_server_processes_give_exactly_five(clean_database):
    with (
        Service(clean_database, RATE_LIMIT_POSTS="5/minute") as one,
        Service(clean_database, RATE_LIMIT_POSTS="5/minute") as two,
    ):
        start = threading.Barrier(50)

        def post(n: int) -> requests.Response:
            service = one if n % 2 else two
            start.wait(timeout=30)
            return requests.post(service.url("/comments"), json={"name": "n", "comment": f"post {n}"}, timeout=30)

        with ThreadPoolExecutor(max_workers=50) as pool:
            responses = list(pool.map(post, range(50)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 5 + [429] * 45
    for refused in (r for r in responses if r.status_code == 429):
        assert refused.json()["code"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 12  # 5/minute: one more every 12 s


@pytest.fixture
def limited_client(clean_database):
    app = create_app(settings_for(clean_database, RATE_LIMIT_POSTS="2/second"))
    yield app.test_client()
    app.extensions["comments_db"].close()


def test_retry_after_says_when_a_post_will_succeed(limited_client):
    def post(n):
        return limited_client.post("/comments", json={"name": "n", "comment": f"c{n}"})

    assert [post(n).status_code for n in range(2)] == [201, 201]
    refused = post(2)
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert wait == 1
    time.sleep(wait)
    assert post(3).status_code == 201


def test_the_limit_is_per_client(limited_client):
    for address in ("198.51.100.1", "198.51.100.2"):
        statuses = [
            limited_client.post(
                "/comments", json={"name": "n", "comment": f"{address} {n}"}, environ_base={"REMOTE_ADDR": address}
            ).status_code
            for n in range(3)
        ]
        assert statuses == [201, 201, 429]


def test_expired_limiter_rows_are_cleaned_up_by_ordinary_requests(limited_client, clean_database, monkeypatch):
    with psycopg2.connect(clean_database) as conn, conn.cursor() as cursor:
        cursor.execute(
            "INSERT INTO post_limits SELECT 'old-' || n, now() - interval '1 hour' FROM generate_series(1, 300) n"
        )
    conn.close()
    monkeypatch.setattr(rate_limits, "PRUNE_ONE_IN", 1)
    assert limited_client.post("/comments", json={"name": "n", "comment": "c"}).status_code == 201
    with psycopg2.connect(clean_database) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM post_limits")
        (left,) = cursor.fetchone()
    conn.close()
    assert left == 1  # only the live row of the client that just posted


@pytest.mark.parametrize("raw, parsed", [("5/minute", (5, 60)), ("10/second", (10, 1)), ("1/hour", (1, 3600))])
def test_rate_settings(raw, parsed):
    assert settings_for("postgresql://x@h/d", RATE_LIMIT_POSTS=raw).rate_limit_posts == parsed
    assert settings_for("postgresql://x@h/d", RATE_LIMIT_POSTS="off").rate_limit_posts is None
