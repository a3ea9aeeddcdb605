"""Hundreds of parallel POSTs against a real gunicorn: every 201 is a stored row."""

from concurrent.futures import ThreadPoolExecutor

import psycopg2
import requests

from tests.service import Service

POSTS = 400


def stored_ids(database_url: str) -> set[int]:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT id FROM comments")
        ids = {i for (i,) in cursor.fetchall()}
    conn.close()
    return ids


def test_parallel_posts_are_all_stored(clean_database):
    with Service(clean_database) as service, requests.Session() as session:
        adapter = requests.adapters.HTTPAdapter(pool_connections=32, pool_maxsize=32)
        session.mount("http://", adapter)

        def post(n: int) -> requests.Response:
            return session.post(
                service.url("/comments"), json={"name": f"p{n}", "comment": f"c{n}", "thread": "load"}, timeout=30
            )

        with ThreadPoolExecutor(max_workers=32) as pool:
            responses = list(pool.map(post, range(POSTS)))

    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == POSTS, {s: statuses.count(s) for s in set(statuses)}
    acknowledged = {r.json()["id"] for r in responses}
    assert len(acknowledged) == POSTS
    assert acknowledged == stored_ids(clean_database)


def test_request_through_gunicorn_has_request_id_and_json_errors(clean_database):
    with Service(clean_database) as service:
        response = requests.get(service.url("/comments/1"), headers={"X-Request-ID": "abc-123"}, timeout=10)
        too_big = requests.post(
            service.url("/comments"), data=b"x" * 5_000_000, headers={"Content-Type": "application/json"}, timeout=10
        )
        entries = service.log_entries()
        service.assert_clean_logs()
    assert response.status_code == 404 and response.headers["X-Request-ID"] == "abc-123"
    assert too_big.status_code == 413 and too_big.json()["code"] == "body_too_large"
    (line,) = [e for e in entries if e.get("request_id") == "abc-123"]
    assert line["path"] == "/comments/1" and line["status"] == 404
