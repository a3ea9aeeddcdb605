"""Authors edit and delete their own comments with the edit token, within the edit window;
deleting erases the words from the table itself."""

import psycopg2
import pytest

from tests.conftest import TEST_ENVIRONMENT
from tests.contract import assert_matches_openapi

ADMIN = TEST_ENVIRONMENT["ADMIN_TOKEN"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def row(database_url: str, comment_id: int):
    with psycopg2.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT name, comment, status, edit_token_hash, edited_at FROM comments WHERE id = %s", (comment_id,)
        )
        found = cursor.fetchone()
    conn.close()
    return found


def backdate(database_url: str, comment_id: int, seconds: int) -> None:
    """Age a comment instead of sleeping through the edit window."""
    with psycopg2.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "UPDATE comments SET created_at = created_at - make_interval(secs => %s) WHERE id = %s",
            (seconds, comment_id),
        )
    conn.close()


@pytest.fixture
def two(post):
    first = post(name="Ann", comment="first", thread="t").get_json()
    second = post(name="Bob", comment="second", thread="t").get_json()
    return first, second


def test_the_token_is_long_random_and_shown_only_at_creation(client, two, clean_database):
    first, second = two
    assert len(first["edit_token"]) >= 22 and first["edit_token"] != second["edit_token"]
    listing = client.get("/comments").get_data(as_text=True)
    single = client.get(f"/comments/{first['id']}").get_data(as_text=True)
    assert first["edit_token"] not in listing + single and "edit_token" not in listing + single
    stored = row(clean_database, first["id"])[3]
    assert first["edit_token"].encode() not in bytes(stored) and len(bytes(stored)) == 32  # a hash


def test_the_author_edits_with_the_token(client, two, clean_database):
    first, _ = two
    response = client.patch(
        f"/comments/{first['id']}", json={"comment": "first, fixed"}, headers=bearer(first["edit_token"])
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["comment"] == "first, fixed" and body["name"] == "Ann"
    assert body["edited_at"] and body["edited_at"].endswith("Z")
    assert_matches_openapi(response, "/comments/{comment_id}", "patch")
    assert client.get(f"/comments/{first['id']}").get_json()["comment"] == "first, fixed"
    renamed = client.patch(f"/comments/{first['id']}", json={"name": " Anna "}, headers=bearer(first["edit_token"]))
    assert renamed.get_json()["name"] == "Anna"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"comment": ""}, "comment"),
        ({"comment": "\u200b"}, "comment"),
        ({"name": "x" * 101}, "name"),
        ({"thread": "elsewhere"}, "thread"),
        ({"status": "published"}, "status"),
        ({}, "comment"),
    ],
)
def test_edits_are_validated_like_new_comments(client, two, body, field):
    first, _ = two
    response = client.patch(f"/comments/{first['id']}", json=body, headers=bearer(first["edit_token"]))
    assert response.status_code == 400 and field in response.get_json()["fields"]


def test_edits_take_json_only(client, two):
    first, _ = two
    response = client.patch(f"/comments/{first['id']}", data={"comment": "x"}, headers=bearer(first["edit_token"]))
    assert response.status_code == 415


@pytest.mark.parametrize("method", ["patch", "delete"])
@pytest.mark.parametrize(
    "credentials",
    ["none", "empty bearer", "basic scheme", "malformed", "wrong token", "other comment's token", "admin token"],
)
def test_every_wrong_credential_is_refused_the_same_way(client, two, method, credentials):
    first, second = two
    headers = {
        "none": {},
        "empty bearer": {"Authorization": "Bearer "},
        "basic scheme": {"Authorization": f"Basic {first['edit_token']}"},
        "malformed": {"Authorization": "Bearer \u00e9\u00e9"},
        "wrong token": bearer("x" * 32),
        "other comment's token": bearer(second["edit_token"]),
        "admin token": bearer(ADMIN),
    }[credentials]
    kwargs = {"json": {"comment": "changed"}} if method == "patch" else {}
    response = getattr(client, method)(f"/comments/{first['id']}", headers=headers, **kwargs)
    assert response.status_code == 401
    assert response.get_json() == {"error": "A valid bearer token is required.", "code": "invalid_token"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get(f"/comments/{first['id']}").get_json()["comment"] == "first"


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_an_unknown_id_is_404(client, two, method):
    first, _ = two
    kwargs = {"json": {"comment": "changed"}} if method == "patch" else {}
    response = getattr(client, method)("/comments/999999", headers=bearer(first["edit_token"]), **kwargs)
    assert response.status_code == 404


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_after_the_edit_window_the_author_is_refused(client, two, clean_database, method):
    first, _ = two
    backdate(clean_database, first["id"], 901)  # EDIT_WINDOW_SECONDS defaults to 900
    kwargs = {"json": {"comment": "late"}} if method == "patch" else {}
    response = getattr(client, method)(f"/comments/{first['id']}", headers=bearer(first["edit_token"]), **kwargs)
    assert response.status_code == 403 and response.get_json()["code"] == "edit_window_closed"
    assert client.get(f"/comments/{first['id']}").get_json()["comment"] == "first"


def test_just_inside_the_edit_window_the_author_may_edit(client, two, clean_database):
    first, _ = two
    backdate(clean_database, first["id"], 880)
    response = client.patch(f"/comments/{first['id']}", json={"comment": "ok"}, headers=bearer(first["edit_token"]))
    assert response.status_code == 200


def test_deleting_a_comment_without_replies_removes_it(client, two, clean_database):
    first, second = two
    response = client.delete(f"/comments/{second['id']}", headers=bearer(second["edit_token"]))
    assert response.status_code == 204 and response.data == b""
    assert client.get(f"/comments/{second['id']}").status_code == 404
    assert [c["id"] for c in client.get("/comments?thread=t").get_json()["comments"]] == [first["id"]]
    assert row(clean_database, second["id"]) is None
    again = client.delete(f"/comments/{second['id']}", headers=bearer(second["edit_token"]))
    assert again.status_code == 404


def test_deleting_a_comment_with_replies_leaves_an_erased_tombstone(client, post, clean_database):
    parent = post(name="Ann", comment="secret words", thread="t").get_json()
    reply = post(name="Bob", comment="reply", thread="t", parent_id=parent["id"]).get_json()
    assert client.delete(f"/comments/{parent['id']}", headers=bearer(parent["edit_token"])).status_code == 204

    tombstone = client.get(f"/comments/{parent['id']}").get_json()
    assert tombstone["status"] == "deleted" and tombstone["name"] is None and tombstone["comment"] is None
    listed = client.get("/comments?thread=t").get_json()["comments"]
    assert [(c["id"], c["status"]) for c in listed] == [(parent["id"], "deleted"), (reply["id"], "published")]
    assert row(clean_database, parent["id"])[:4] == (None, None, "deleted", None)  # the words are gone

    # The last reply goes: the tombstone has nothing left to hold together, and goes too.
    assert client.delete(f"/comments/{reply['id']}", headers=bearer(reply["edit_token"])).status_code == 204
    assert row(clean_database, parent["id"]) is None
    assert client.get("/comments?thread=t").get_json()["comments"] == []


def test_a_tombstone_cannot_be_replied_to_or_edited(client, post):
    parent = post(name="Ann", comment="p", thread="t").get_json()
    post(name="Bob", comment="r", thread="t", parent_id=parent["id"])
    client.delete(f"/comments/{parent['id']}", headers=bearer(parent["edit_token"]))
    reply = post(name="Cy", comment="late reply", thread="t", parent_id=parent["id"])
    assert reply.status_code == 400 and reply.get_json()["code"] == "parent_not_found"
    edit = client.patch(f"/comments/{parent['id']}", json={"comment": "x"}, headers=bearer(parent["edit_token"]))
    assert edit.status_code == 404
