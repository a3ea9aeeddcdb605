"""Following cursors while comments are being written: every comment exactly once.

Ids are taken before commit, so with concurrent writers a higher id can become visible before a
lower one. A reader must never step past a comment that is still in flight (see
migrations/0002_commit_safe_listing_order.sql)."""

import time

import requests

from tests.service import Posters, Service


def follow(service: Service, cursor: str | None, seen: list[int]) -> str:
    """Read pages until there is nothing more now; returns the cursor to poll from."""
    session = requests.Session()
    while True:
        params = {"thread": "load", "limit": 50, **({"cursor": cursor} if cursor else {})}
        page = session.get(service.url("/comments"), params=params, timeout=10).json()
        seen.extend(comment["id"] for comment in page["comments"])
        cursor = page["poll_cursor"]
        if page["next_cursor"] is None:
            return cursor


def test_a_reader_following_cursors_sees_every_comment_once_under_concurrent_writers(database_url, clean_database):
    seen: list[int] = []
    with Service(clean_database) as service:
        with Posters(service, threads=4, seconds=12) as writers:
            cursor = None
            while time.monotonic() < writers.deadline:
                cursor = follow(service, cursor, seen)
            writers.stop()
        cursor = follow(service, cursor, seen)  # everything has committed: catch up once more

    acknowledged = writers.acknowledged
    print(f"\n{len(acknowledged)} comments written by 4 writers, {len(seen)} read by following cursors")
    assert len(acknowledged) >= 1000, "too little concurrency to prove anything"
    assert len(seen) == len(set(seen)), "a comment was listed twice"
    assert set(seen) == set(acknowledged), f"missed: {sorted(set(acknowledged) - set(seen))[:20]}"
    assert not writers.failures
