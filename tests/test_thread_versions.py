"""Listing pages carry an ETag from their thread's version; an unchanged thread is a 304.

Every visible change bumps the version in its own transaction (migrations/0017): posts, edits,
moderation, erasure, votes and imports. A reader's copy is never kept past a change it missed.
"""

import psycopg2
import pytest

import db
from app import create_app
from core.exceptions import DatabaseUnavailable
from tests.conftest import TEST_ENVIRONMENT, settings_for
from tests.test_import import FIXTURES, imported
from tests.test_ownership import bearer

AS_ADMIN = bearer(TEST_ENVIRONMENT["ADMIN_TOKEN"])


def listing(client, etag: str | None = None, **params):
    headers = {"If-None-Match": etag} if etag else {}
    return client.get("/comments", query_string={"thread": "t", **params}, headers=headers)


def assert_unchanged(client, etag: str, **params) -> None:
    response = listing(client, etag, **params)
    assert response.status_code == 304, response.get_json()
    assert response.data == b""
    assert response.headers["ETag"] in etag


def assert_changed(client, etag: str, **params) -> str:
    response = listing(client, etag, **params)
    assert response.status_code == 200
    assert response.headers["ETag"] != etag
    return response.headers["ETag"]


def test_an_unchanged_thread_is_a_304_and_a_new_comment_is_not(client, post):
    post(name="a", comment="first", thread="t")
    first = listing(client)
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "no-cache"
    etag = first.headers["ETag"]
    assert_unchanged(client, etag)
    assert_unchanged(client, f'"other", {etag}')  # any of the tags the client holds

    post(name="b", comment="in another thread", thread="elsewhere")
    assert_unchanged(client, etag)
    post(name="b", comment="second", thread="t")
    assert [c["comment"] for c in listing(client).get_json()["comments"]] == ["first", "second"]
    assert_changed(client, etag)


def test_a_poll_from_the_end_of_the_thread_is_a_304_until_someone_posts(client, post):
    post(name="a", comment="first", thread="t")
    poll = {"cursor": listing(client).get_json()["poll_cursor"]}
    empty = listing(client, **poll)
    assert empty.get_json()["comments"] == []
    assert_unchanged(client, empty.headers["ETag"], **poll)
    post(name="b", comment="new", thread="t")
    fresh = listing(client, empty.headers["ETag"], **poll)
    assert [c["comment"] for c in fresh.get_json()["comments"]] == ["new"]


def test_each_page_has_its_own_tag(client, post):
    for n in range(3):
        post(name="a", comment=f"c{n}", thread="t")
    first, second = listing(client, limit=1), listing(client, limit=2)
    assert first.headers["ETag"] != second.headers["ETag"]
    assert listing(client, second.headers["ETag"], limit=1).status_code == 200


def test_an_empty_thread_has_a_tag_and_its_first_comment_changes_it(client, post):
    etag = listing(client).headers["ETag"]
    assert_unchanged(client, etag)
    post(name="a", comment="first", thread="t")
    assert_changed(client, etag)


def test_edits_moderation_and_erasure_each_change_the_tag(client, post):
    created = post(name="a", comment="words", thread="t").get_json()
    etag = listing(client).headers["ETag"]
    edited = client.patch(
        f"/comments/{created['id']}", json={"comment": "new words"}, headers=bearer(created["edit_token"])
    )
    assert edited.status_code == 200
    etag = assert_changed(client, etag)
    assert (
        client.patch(f"/admin/comments/{created['id']}", json={"status": "rejected"}, headers=AS_ADMIN).status_code
        == 200
    )
    etag = assert_changed(client, etag)
    assert (
        client.patch(f"/admin/comments/{created['id']}", json={"status": "published"}, headers=AS_ADMIN).status_code
        == 200
    )
    etag = assert_changed(client, etag)
    assert client.delete(f"/admin/comments/{created['id']}", headers=AS_ADMIN).status_code == 204
    assert_changed(client, etag)


def test_an_import_changes_the_tags_of_the_threads_it_fills(client, clean_database):
    before = client.get("/comments", query_string={"thread": "/2014/test/"})
    imported(clean_database, str(FIXTURES / "disqus.xml"))
    after = client.get(
        "/comments", query_string={"thread": "/2014/test/"}, headers={"If-None-Match": before.headers["ETag"]}
    )
    assert after.status_code == 200 and after.get_json()["comments"]


def test_no_tag_while_a_change_is_not_yet_listed(client, post, clean_database):
    """A comment committed after a transaction that is still open is not listed yet (0002): a tag
    given then would name a page without it, and the reader would never be told about it."""
    post(name="a", comment="first", thread="t")
    older = psycopg2.connect(clean_database)
    try:
        with older.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()")  # an open transaction, older than the post
        post(name="b", comment="waits for the older transaction", thread="t")
        waiting = listing(client)
        assert [c["comment"] for c in waiting.get_json()["comments"]] == ["first"]
        assert "ETag" not in waiting.headers
        older.commit()
    finally:
        older.close()
    settled = listing(client)
    assert len(settled.get_json()["comments"]) == 2 and "ETag" in settled.headers


def test_a_304_runs_no_page_query(client, post, monkeypatch):
    post(name="a", comment="first", thread="t")
    etag = listing(client).headers["ETag"]

    def no_page(*args, **kwargs):
        raise AssertionError("a revalidation read a page")

    monkeypatch.setattr(db.CommentDatabase, "page", no_page)
    assert_unchanged(client, etag)


def test_the_site_wide_listing_has_no_tag(client, post):
    post(name="a", comment="first", thread="t")
    assert "ETag" not in client.get("/comments").headers


@pytest.mark.parametrize("tag", ["*", 'W/"x"', "garbage"])
def test_tags_the_thread_never_had_get_the_page(client, post, tag):
    post(name="a", comment="first", thread="t")
    response = listing(client, tag)
    # "*" matches any current representation (RFC 9110): a 304 is the right answer to it.
    assert response.status_code == (304 if tag == "*" else 200)


# A 304 is answered before Flask (api/comments.py ReadsFirst); it must still be the answer
# Flask would give, and anything unusual must still reach Flask.


def test_a_304_carries_what_every_answer_carries(clean_database):
    client = create_app(settings_for(clean_database, CORS_ORIGINS="https://blog.example")).test_client()
    client.post("/comments", json={"name": "a", "comment": "first", "thread": "t"})
    asked = {"Origin": "https://blog.example", "X-Request-ID": "poll-1"}
    page = client.get("/comments?thread=t", headers=asked)
    unchanged = client.get("/comments?thread=t", headers={**asked, "If-None-Match": page.headers["ETag"]})
    assert unchanged.status_code == 304 and unchanged.data == b""
    for name in ("ETag", "Cache-Control", "X-Request-ID", "X-Content-Type-Options", "Vary"):
        assert unchanged.headers[name] == page.headers[name], name
    for name in ("Access-Control-Allow-Origin", "Access-Control-Expose-Headers"):
        assert unchanged.headers[name] == page.headers[name], name
    elsewhere = {"Origin": "https://evil.example", "If-None-Match": page.headers["ETag"]}
    other_origin = client.get("/comments?thread=t", headers=elsewhere)
    assert other_origin.status_code == 304 and "Access-Control-Allow-Origin" not in other_origin.headers
    unsafe_id = {"If-None-Match": page.headers["ETag"], "X-Request-ID": "spaces <b>"}
    assert len(client.get("/comments?thread=t", headers=unsafe_id).headers["X-Request-ID"]) == 32  # a new one


def test_a_304_is_logged_with_its_request_id(client, post, json_lines):
    post(name="a", comment="first", thread="t")
    etag = listing(client).headers["ETag"]
    lines = json_lines(
        lambda: client.get("/comments?thread=t", headers={"If-None-Match": etag, "X-Request-ID": "poll-2"})
    )
    (line,) = [entry for entry in lines if entry.get("logger") == "comments.access"]
    assert line["request_id"] == "poll-2" and line["status"] == 304 and line["path"] == "/comments"
    assert line["method"] == "GET" and line["bytes"] == 0 and "duration_ms" in line


def test_a_head_revalidation_is_a_304_too(client, post):
    post(name="a", comment="first", thread="t")
    etag = listing(client).headers["ETag"]
    assert client.head("/comments?thread=t", headers={"If-None-Match": etag}).status_code == 304


def test_an_invalid_query_is_refused_whatever_tag_it_brings(client, post):
    post(name="a", comment="first", thread="t")
    etag = listing(client).headers["ETag"]
    response = client.get("/comments?thread=t&limit=0", headers={"If-None-Match": etag})
    assert response.status_code == 400 and response.get_json()["code"] == "invalid_query"
    star = client.get("/comments?thread=t&order=sideways", headers={"If-None-Match": "*"})
    assert star.status_code == 400


@pytest.mark.parametrize(
    "failure, status, code",
    [
        (DatabaseUnavailable("The database is unavailable."), 503, "database_unavailable"),
        (RuntimeError("a bug"), 500, "internal_error"),
    ],
)
def test_a_read_that_fails_before_flask_is_answered_by_flask(client, post, monkeypatch, failure, status, code):
    # ReadsFirst leaves every error to Flask, whose web/errors.py answers it in JSON.
    post(name="a", comment="first", thread="t")
    etag = listing(client).headers["ETag"]

    calls = []

    def failing(self, thread, *, reader=None):
        calls.append(thread)
        raise failure

    monkeypatch.setattr(db.CommentDatabase, "thread_version", failing)
    response = client.get("/comments?thread=t", headers={"If-None-Match": etag})
    assert response.status_code == status and response.get_json()["code"] == code
    assert calls == ["t"]  # tried once: a database that does not answer costs one timeout, not two


def test_a_forged_forwarded_address_is_refused_even_with_a_current_tag(clean_database):
    client = create_app(settings_for(clean_database, TRUSTED_PROXIES="1")).test_client()
    client.post("/comments", json={"name": "a", "comment": "first", "thread": "t"})
    etag = client.get("/comments?thread=t").headers["ETag"]
    forged = client.get("/comments?thread=t", headers={"If-None-Match": etag, "X-Forwarded-For": "not-an-address"})
    assert forged.status_code == 400 and forged.get_json()["code"] == "invalid_client_address"
    assert client.get("/comments?thread=t", headers={"If-None-Match": etag}).status_code == 304
