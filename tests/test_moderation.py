"""The admin API and pre-moderation: who may act, what the public sees, and the audit trail."""

import logging

import psycopg2
import pytest

from app import create_app
from tests.conftest import TEST_ENVIRONMENT, settings_for
from tests.contract import assert_matches_openapi
from tests.test_ownership import bearer, row

ADMIN = TEST_ENVIRONMENT["ADMIN_TOKEN"]
AS_ADMIN = bearer(ADMIN)


@pytest.fixture
def pre_client(clean_database):
    app = create_app(settings_for(clean_database, MODERATION="pre"))
    yield app.test_client()
    app.extensions["comments_db"].close()


def audit(database_url: str) -> list[tuple]:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT action, comment_id, old_status, new_status, token_fingerprint FROM moderation_log ORDER BY id"
        )
        rows = cursor.fetchall()
    conn.close()
    return rows


ADMIN_CALLS = [
    ("get", "/admin/comments", None),
    ("patch", "/admin/comments/{id}", {"status": "rejected"}),
    ("delete", "/admin/comments/{id}", None),
]


@pytest.mark.parametrize("method, path, body", ADMIN_CALLS, ids=[f"{m} {p}" for m, p, _ in ADMIN_CALLS])
@pytest.mark.parametrize("credentials", ["none", "wrong", "edit token", "admin token plus one", "basic"])
def test_every_admin_route_refuses_every_wrong_credential_alike(client, post, method, path, body, credentials):
    created = post(name="a", comment="b").get_json()
    headers = {
        "none": {},
        "wrong": bearer("w" * 40),
        "edit token": bearer(created["edit_token"]),
        "admin token plus one": bearer(ADMIN + "x"),
        "basic": {"Authorization": f"Basic {ADMIN}"},
    }[credentials]
    kwargs = {"json": body} if body else {}
    response = getattr(client, method)(path.format(id=created["id"]), headers=headers, **kwargs)
    assert response.status_code == 401
    assert response.get_json() == {"error": "A valid bearer token is required.", "code": "invalid_token"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get(f"/comments/{created['id']}").status_code == 200  # nothing happened


@pytest.mark.parametrize("method, path, body", ADMIN_CALLS, ids=[f"{m} {p}" for m, p, _ in ADMIN_CALLS])
def test_every_admin_route_works_with_the_admin_token(client, post, method, path, body):
    created = post(name="a", comment="b").get_json()
    kwargs = {"json": body} if body else {}
    response = getattr(client, method)(path.format(id=created["id"]), headers=AS_ADMIN, **kwargs)
    assert response.status_code in (200, 204)
    if response.status_code == 200:
        assert_matches_openapi(response, path.replace("{id}", "{comment_id}"), method)


def test_without_admin_token_the_admin_api_is_off_for_everyone(clean_database, caplog):
    caplog.set_level(logging.INFO)
    app = create_app(settings_for(clean_database, ADMIN_TOKEN=""))
    assert any("admin API is off" in record.getMessage() for record in caplog.records)
    for token in ("", ADMIN, "anything-at-all-" * 3):
        response = app.test_client().get("/admin/comments", headers=bearer(token) if token else {})
        assert response.status_code == 401


def test_pre_moderation_holds_comments_until_approved(pre_client, clean_database):
    created = pre_client.post("/comments", json={"name": "Ann", "comment": "wait for me", "thread": "t"})
    assert created.status_code == 201 and created.get_json()["status"] == "pending"
    comment_id = created.get_json()["id"]
    assert pre_client.get(f"/comments/{comment_id}").status_code == 404
    assert pre_client.get("/comments?thread=t").get_json()["comments"] == []
    assert pre_client.get("/counts?thread=t").get_json() == {"counts": {"t": 0}}

    queue = pre_client.get("/admin/comments?status=pending", headers=AS_ADMIN).get_json()["comments"]
    assert [c["id"] for c in queue] == [comment_id] and queue[0]["client"]

    approved = pre_client.patch(f"/admin/comments/{comment_id}", json={"status": "published"}, headers=AS_ADMIN)
    assert approved.status_code == 200 and approved.get_json()["status"] == "published"
    assert pre_client.get(f"/comments/{comment_id}").get_json()["comment"] == "wait for me"
    assert pre_client.get("/counts?thread=t").get_json() == {"counts": {"t": 1}}

    rejected = pre_client.patch(f"/admin/comments/{comment_id}", json={"status": "rejected"}, headers=AS_ADMIN)
    assert rejected.get_json()["status"] == "rejected"
    assert pre_client.get(f"/comments/{comment_id}").status_code == 404
    assert pre_client.get("/counts?thread=t").get_json() == {"counts": {"t": 0}}

    fingerprints = {entry[4] for entry in audit(clean_database)}
    assert [entry[:4] for entry in audit(clean_database)] == [
        ("set_status", comment_id, "pending", "published"),
        ("set_status", comment_id, "published", "rejected"),
    ]
    assert len(fingerprints) == 1 and ADMIN not in fingerprints.pop()


def test_a_published_comment_edited_under_pre_moderation_goes_back_to_the_queue(pre_client):
    created = pre_client.post("/comments", json={"name": "Ann", "comment": "v1", "thread": "t"}).get_json()
    pre_client.patch(f"/admin/comments/{created['id']}", json={"status": "published"}, headers=AS_ADMIN)
    edited = pre_client.patch(
        f"/comments/{created['id']}", json={"comment": "v2 with new words"}, headers=bearer(created["edit_token"])
    )
    assert edited.get_json()["status"] == "pending"
    assert pre_client.get(f"/comments/{created['id']}").status_code == 404


def test_the_author_may_delete_a_pending_comment_but_the_public_cannot_probe_it(pre_client):
    created = pre_client.post("/comments", json={"name": "Ann", "comment": "hidden"}).get_json()
    wrong = pre_client.delete(f"/comments/{created['id']}", headers=bearer("w" * 40))
    assert wrong.status_code == 404  # as for any comment the public cannot see
    assert pre_client.delete(f"/comments/{created['id']}", headers=bearer(created["edit_token"])).status_code == 204


def test_admin_erases_at_any_age_and_it_is_recorded(client, post, clean_database):
    created = post(name="Ann", comment="old words").get_json()
    with psycopg2.connect(clean_database) as conn, conn.cursor() as cursor:
        cursor.execute("UPDATE comments SET created_at = now() - interval '400 days'")
    conn.close()
    assert client.delete(f"/admin/comments/{created['id']}", headers=AS_ADMIN).status_code == 204
    assert row(clean_database, created["id"]) is None
    assert [entry[:4] for entry in audit(clean_database)] == [("erase", created["id"], "published", None)]
    assert client.delete(f"/admin/comments/{created['id']}", headers=AS_ADMIN).status_code == 404


def test_a_deleted_comment_cannot_be_republished(client, post):
    parent = post(name="Ann", comment="p").get_json()
    post(name="Bob", comment="r", parent_id=parent["id"])
    client.delete(f"/admin/comments/{parent['id']}", headers=AS_ADMIN)
    response = client.patch(f"/admin/comments/{parent['id']}", json={"status": "published"}, headers=AS_ADMIN)
    assert response.status_code == 409 and response.get_json()["code"] == "comment_deleted"


@pytest.mark.parametrize("body", [{"status": "deleted"}, {"status": "pending"}, {"status": "published", "x": 1}, {}])
def test_moderators_only_publish_or_reject(client, post, body):
    created = post(name="a", comment="b").get_json()
    response = client.patch(f"/admin/comments/{created['id']}", json=body, headers=AS_ADMIN)
    assert response.status_code == 400


def test_the_admin_listing_pages_newest_first_and_filters(client, post):
    ids = [post(name="n", comment=f"c{n}", thread="a" if n % 2 else "b").get_json()["id"] for n in range(7)]
    client.patch(f"/admin/comments/{ids[0]}", json={"status": "rejected"}, headers=AS_ADMIN)
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        response = client.get("/admin/comments", query_string=params, headers=AS_ADMIN)
        assert_matches_openapi(response, "/admin/comments")
        page = response.get_json()
        seen += [c["id"] for c in page["comments"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert response.headers["Link"].startswith("</admin/comments?")
    assert seen == ids[::-1]
    rejected = client.get("/admin/comments?status=rejected", headers=AS_ADMIN).get_json()["comments"]
    assert [c["id"] for c in rejected] == [ids[0]]
    in_a = client.get("/admin/comments?thread=a", headers=AS_ADMIN).get_json()["comments"]
    assert [c["id"] for c in in_a] == [i for n, i in enumerate(ids) if n % 2][::-1]
    bad = client.get("/admin/comments?status=spam", headers=AS_ADMIN)
    assert bad.status_code == 400 and "status" in bad.get_json()["fields"]


def test_the_client_pseudonym_finds_one_senders_comments_without_storing_addresses(client, clean_database):
    for n, address in enumerate(("198.51.100.7", "198.51.100.7", "203.0.113.5")):
        client.post("/comments", json={"name": "x", "comment": f"c{n}"}, environ_base={"REMOTE_ADDR": address})
    listed = client.get("/admin/comments", headers=AS_ADMIN).get_json()["comments"]
    clients = [c["client"] for c in listed]
    assert clients[1] == clients[2] != clients[0]
    with psycopg2.connect(clean_database) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT comments::text FROM comments UNION ALL SELECT post_limits::text FROM post_limits")
        dump = " ".join(text for (text,) in cursor.fetchall())
    conn.close()
    assert "198.51.100" not in dump and "203.0.113" not in dump
