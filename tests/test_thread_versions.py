"""Listings of one thread carry an ETag (the thread's version, migrations/0012): a revalidation
is answered 304 after one index lookup while nothing changed, and every visible change (a post,
an edit, a moderator's decision, an erasure) makes the next revalidation a full 200."""

import psycopg2
import pytest

from app import create_app
from tests.conftest import TEST_ENVIRONMENT, settings_for

ADMIN = {"Authorization": f"Bearer {TEST_ENVIRONMENT['ADMIN_TOKEN']}"}


def revalidate(client, etag: str, query: str = "thread=t"):
    return client.get(f"/comments?{query}", headers={"If-None-Match": etag})


def test_an_unchanged_thread_is_answered_304_without_a_page_query(clean_database):
    app = create_app(settings_for(clean_database, DB_STATEMENT_TIMEOUT_MS="300"))
    client = app.test_client()
    client.post("/comments", json={"thread": "t", "name": "A", "comment": "one"})
    first = client.get("/comments?thread=t")
    etag = first.headers["ETag"]
    assert etag.startswith('W/"') and first.headers["Cache-Control"] == "no-cache"
    blocker = psycopg2.connect(clean_database)
    try:
        # While nobody can read the comments table, a page query would wait and fail (503).
        blocker.cursor().execute("LOCK TABLE comments IN ACCESS EXCLUSIVE MODE")
        again = revalidate(client, etag)
        changed = revalidate(client, 'W/"something-else"')
    finally:
        blocker.rollback()
        blocker.close()
    assert again.status_code == 304 and again.get_data() == b"" and again.headers["ETag"] == etag
    assert changed.status_code == 503  # another version needs the page: the detector works
    assert revalidate(client, 'W/"something-else"').status_code == 200
    app.extensions["comments_db"].close()


@pytest.mark.parametrize("change", ["post", "edit", "reject", "erase", "post elsewhere"])
def test_every_visible_change_makes_the_next_revalidation_a_full_answer(client, change):
    created = client.post("/comments", json={"thread": "t", "name": "A", "comment": "one"}).get_json()
    etag = client.get("/comments?thread=t").headers["ETag"]
    bearer = {"Authorization": f"Bearer {created['edit_token']}"}
    if change == "post":
        client.post("/comments", json={"thread": "t", "name": "B", "comment": "two"})
    elif change == "edit":
        client.patch(f"/comments/{created['id']}", json={"comment": "one, edited"}, headers=bearer)
    elif change == "reject":
        client.patch(f"/admin/comments/{created['id']}", json={"status": "rejected"}, headers=ADMIN)
    elif change == "erase":
        client.delete(f"/comments/{created['id']}", headers=bearer)
    else:
        client.post("/comments", json={"thread": "other", "name": "B", "comment": "two"})
    answer = revalidate(client, etag)
    if change == "post elsewhere":
        assert answer.status_code == 304  # another thread's change is not this thread's
    else:
        assert answer.status_code == 200 and answer.headers["ETag"] != etag


def test_a_page_of_every_thread_has_no_etag_and_is_never_304(client):
    client.post("/comments", json={"thread": "t", "name": "A", "comment": "one"})
    response = client.get("/comments")
    assert "ETag" not in response.headers
    assert client.get("/comments", headers={"If-None-Match": "*"}).status_code == 200


def test_an_etag_names_the_whole_representation(client):
    client.post("/comments", json={"thread": "t", "name": "A", "comment": "one"})
    etag = client.get("/comments?thread=t").headers["ETag"]
    # The same thread with another page size is another URL; caches key by URL, and the version
    # still holds for it, so the answer is right either way.
    assert revalidate(client, etag, "thread=t&limit=5").status_code == 304
