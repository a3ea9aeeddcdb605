"""The spam rules: duplicates, too many links, the honeypot."""

import pytest

from app import create_app
from tests.conftest import TEST_ENVIRONMENT, settings_for
from tests.test_ownership import bearer, row

AS_ADMIN = bearer(TEST_ENVIRONMENT["ADMIN_TOKEN"])


def test_the_same_text_twice_in_a_thread_is_a_duplicate(client, post):
    assert post(name="a", comment="Same words", thread="t").status_code == 201
    again = post(name="b", comment="Same words", thread="t")
    assert again.status_code == 409 and again.get_json()["code"] == "duplicate_comment"
    assert post(name="a", comment="Same words", thread="elsewhere").status_code == 201
    other_client = client.post(
        "/comments",
        json={"name": "a", "comment": "Same words", "thread": "t"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert other_client.status_code == 201


@pytest.mark.parametrize(
    "text, status",
    [
        ("see https://a.example and http://b.example and www.c.example", "published"),
        ("https://a.example https://b.example https://c.example https://d.example", "pending"),
    ],
)
def test_more_than_max_links_waits_for_a_moderator(client, post, text, status):
    created = post(name="a", comment=text)
    assert created.status_code == 201 and created.get_json()["status"] == status
    assert client.get(f"/comments/{created.get_json()['id']}").status_code == (200 if status == "published" else 404)


def test_max_links_is_configurable(clean_database):
    client = create_app(settings_for(clean_database, MAX_LINKS="0")).test_client()
    created = client.post("/comments", json={"name": "a", "comment": "one link: https://a.example"})
    assert created.get_json()["status"] == "pending"


@pytest.mark.parametrize("as_form", [False, True])
def test_a_filled_honeypot_looks_pending_but_is_rejected(client, clean_database, as_form):
    fields = {"name": "bot", "comment": "buy now", "website": "https://spam.example"}
    response = client.post("/comments", data=fields) if as_form else client.post("/comments", json=fields)
    assert response.status_code == 201
    assert response.get_json()["status"] == "pending"
    comment_id = response.get_json()["id"]
    assert row(clean_database, comment_id)[2] == "rejected"  # stored, so nothing is lost
    assert client.get(f"/comments/{comment_id}").status_code == 404
    rejected = client.get("/admin/comments?status=rejected", headers=AS_ADMIN).get_json()["comments"]
    assert [c["id"] for c in rejected] == [comment_id]


def test_an_empty_honeypot_is_what_people_send(client):
    created = client.post("/comments", data={"name": "Ann", "comment": "hi", "website": ""})
    assert created.get_json()["status"] == "published"
