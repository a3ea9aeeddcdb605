"""GET /comments and GET /comments/{id}: order, threads, keyset paging, links."""

import json
from itertools import product
from urllib.parse import parse_qs, urlsplit

import psycopg2
import pytest
from flask import Request
from werkzeug.test import EnvironBuilder

import db
from api import feeds, moderation
from comment import START, Position
from tests.contract import assert_matches_openapi
from web import payload
from web.payload import encode_cursor


@pytest.fixture
def seeded(post):
    """Six comments in thread a, two in b, interleaved; returns their ids by thread."""
    ids = {"a": [], "b": []}
    for n in range(8):
        thread = "a" if n % 3 != 2 else "b"
        ids[thread].append(post(name="n", comment=f"c{n}", thread=thread).get_json()["id"])
    return ids


def walk(client, **params) -> tuple[list[int], int]:
    """Follow next_cursor to the end; returns the ids seen and the number of pages."""
    seen, pages, cursor = [], 0, None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        response = client.get("/comments", query_string=query)
        assert response.status_code == 200, response.get_json()
        assert_matches_openapi(response, "/comments")
        body = response.get_json()
        seen += [c["id"] for c in body["comments"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            assert "Link" not in response.headers
            return seen, pages


def test_empty_listing(client):
    response = client.get("/comments")
    assert response.status_code == 200
    assert response.get_json() == {"comments": [], "next_cursor": None, "poll_cursor": encode_cursor(START)}


def test_lists_all_threads_oldest_first(client, seeded):
    body = client.get("/comments").get_json()
    assert [c["id"] for c in body["comments"]] == sorted(seeded["a"] + seeded["b"])


def test_thread_filter(client, seeded):
    body = client.get("/comments?thread=b").get_json()
    assert [c["id"] for c in body["comments"]] == seeded["b"]
    assert {c["thread"] for c in body["comments"]} == {"b"}


def test_newest_first(client, seeded):
    body = client.get("/comments?thread=a&order=newest").get_json()
    assert [c["id"] for c in body["comments"]] == seeded["a"][::-1]


@pytest.mark.parametrize("order", ["oldest", "newest"])
@pytest.mark.parametrize("limit", [1, 2, 3, 5, 100])
def test_paging_yields_every_comment_exactly_once(client, seeded, order, limit):
    seen, pages = walk(client, thread="a", limit=limit, order=order)
    expected = seeded["a"] if order == "oldest" else seeded["a"][::-1]
    assert seen == expected
    assert pages == max(1, -(-len(expected) // limit))  # no empty page at the end


def test_paging_across_all_threads(client, seeded):
    seen, _ = walk(client, limit=3)
    assert seen == sorted(seeded["a"] + seeded["b"])


def test_link_header_points_at_the_next_page(client, seeded):
    response = client.get("/comments?thread=a&limit=2&order=newest")
    link = response.headers["Link"]
    assert link.endswith('>; rel="next"')
    url = urlsplit(link[1 : link.index(">")])
    assert url.path == "/comments"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query == {"thread": "a", "limit": "2", "order": "newest", "cursor": response.get_json()["next_cursor"]}
    following = client.get(f"{url.path}?{url.query}").get_json()
    assert [c["id"] for c in following["comments"]] == seeded["a"][::-1][2:4]


def test_default_page_size_is_20(client, post):
    for n in range(25):
        post(name="n", comment=str(n))
    body = client.get("/comments").get_json()
    assert len(body["comments"]) == 20 and body["next_cursor"]


def test_a_cursor_past_the_end_gives_an_empty_page(client, seeded):
    past_the_end = encode_cursor(Position(10**15, "2020-01-01T00:00:00.000000Z", 10**12))
    body = client.get("/comments", query_string={"cursor": past_the_end}).get_json()
    assert body == {"comments": [], "next_cursor": None, "poll_cursor": past_the_end}


def test_get_one_and_missing(client, seeded):
    assert client.get(f"/comments/{seeded['b'][0]}").get_json()["thread"] == "b"
    missing = client.get("/comments/999999")
    assert missing.status_code == 404
    assert missing.get_json()["code"] == "comment_not_found"
    assert_matches_openapi(missing, "/comments/{comment_id}")


@pytest.mark.parametrize(
    "query, field",
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=1e2", "limit"),
        ("limit=99999999999999999999999999", "limit"),
        ("order=sideways", "order"),
        ("cursor=garbage!", "cursor"),
        ("cursor=", "cursor"),
        ("thread=", "thread"),
        ("page=2", "page"),
        ("limit=1&limit=2", "limit"),
    ],
)
def test_bad_query_parameters_are_400(client, query, field):
    response = client.get(f"/comments?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == "invalid_query" and field in body["fields"]
    assert_matches_openapi(response, "/comments")


def _plan_sorts(database_url: str, sql: str, params: tuple) -> bool:
    """Whether PostgreSQL must sort to answer `sql`, when told to avoid sorting if it can."""
    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SET enable_sort = off")  # any index that gives the order is then taken
            cursor.execute(f"PREPARE listing AS {sql}")
            cursor.execute(f"EXPLAIN (FORMAT JSON) EXECUTE listing ({', '.join(['%s'] * len(params))})", params)
            return "Sort" in json.dumps(cursor.fetchone()[0])  # a Sort or an Incremental Sort
    finally:
        conn.close()


@pytest.mark.parametrize("variant", list(product((False, True), repeat=3)))
def test_every_listing_reads_its_index_in_order_without_sorting_the_thread(clean_database, variant):
    # A bare "created_at" in ORDER BY once named the formatted text column: every page sorted its thread.
    by_thread, after, _newest = variant
    params = (*(("t",) if by_thread else ()), *((1, "2026-01-01T00:00:00Z", 1) if after else ()), 21)
    assert not _plan_sorts(clean_database, db._page_sql(*variant), params)


def test_the_feed_and_the_admin_listing_read_their_index_in_order(app, clean_database):
    assert not _plan_sorts(clean_database, feeds.ENTRIES.replace("%s", "$1"), ("t",))
    with app.app_context():
        sql, params = moderation._page_sql(payload.read_admin_list_query(_request("/admin/comments?thread=t")))
    assert not _plan_sorts(clean_database, _numbered(sql), params)


def _request(url: str):
    return Request(EnvironBuilder(path=url.split("?")[0], query_string=url.split("?")[1]).get_environ())


def _numbered(sql: str) -> str:
    """psycopg2's %s placeholders as PREPARE's $1, $2..."""
    parts = sql.split("%s")
    return "".join(part + (f"${i + 1}" if i < len(parts) - 1 else "") for i, part in enumerate(parts))
