"""GET and DELETE /admin/people: one person's comments (by e-mail address or client pseudonym),
to answer a data-access request or to remove a spammer in one action."""

import io

import orjson
import pytest

from tests import pictures
from tests.conftest import TEST_ENVIRONMENT, query, stored_keys
from tests.contract import assert_matches_openapi
from tests.test_import import FIXTURES, imported

ADMIN = {"Authorization": f"Bearer {TEST_ENVIRONMENT['ADMIN_TOKEN']}"}


def lines(response) -> tuple[dict, list[dict]]:
    assert response.status_code == 200 and response.mimetype == "application/x-ndjson"
    header, *found = [orjson.loads(line) for line in response.get_data().splitlines()]
    return header, found


@pytest.fixture
def people(client):
    ann = client.post("/comments", json={"thread": "a", "name": "Ann", "comment": "One", "email": "Ann@Example.tld",
                                         "notify_replies": True}).get_json()  # fmt: skip
    reply = client.post("/comments", json={"thread": "a", "name": "Bob", "comment": "Re", "parent_id": ann["id"],
                                           "email": "bob@example.tld"}).get_json()  # fmt: skip
    two = client.post("/comments", json={"thread": "b", "name": "Ann", "comment": "Two", "email": "ann@example.tld"})
    return {"ann": ann, "reply": reply, "two": two.get_json()}


def test_everything_one_address_wrote_as_export_lines(client, people):
    header, found = lines(client.get("/admin/people", query_string={"email": "ANN@example.tld"}, headers=ADMIN))
    assert header["format"] == "comments-api" and header["fields"][-3:] == ["email", "notify_replies", "client"]
    assert [line["id"] for line in found] == [people["ann"]["id"], people["two"]["id"]]  # any case, nobody else's
    assert found[0]["email"] == "Ann@Example.tld" and found[0]["notify_replies"] is True
    assert set(found[0]) == set(header["fields"])


def test_erasing_everything_one_address_wrote(client, clean_database, people):
    response = client.delete("/admin/people", query_string={"email": "ann@example.tld"}, headers=ADMIN)
    assert response.status_code == 200 and response.get_json() == {"erased": 2}
    assert_matches_openapi(response, "/admin/people", "delete")
    shown = {comment["id"]: comment for comment in client.get("/comments?thread=a").get_json()["comments"]}
    assert shown[people["ann"]["id"]]["status"] == "deleted" and shown[people["ann"]["id"]]["comment"] is None
    assert shown[people["reply"]["id"]]["comment"] == "Re"  # the reply stays, under a tombstone
    assert client.get(f"/comments/{people['two']['id']}").status_code == 404  # no replies: gone
    assert lines(client.get("/admin/people?email=ann@example.tld", headers=ADMIN))[1] == []
    logged = query(clean_database, "SELECT action, comment_id FROM moderation_log ORDER BY comment_id")
    assert logged == [("erase_by_email", people["ann"]["id"]), ("erase_by_email", people["two"]["id"])]
    again = client.delete("/admin/people", query_string={"email": "ann@example.tld"}, headers=ADMIN)
    assert again.get_json() == {"erased": 0}


def test_a_spammers_comments_erased_by_client_pseudonym(client, clean_database):
    for text in ("buy", "cheap", "now"):
        client.post("/comments", json={"thread": "s", "name": "Spam", "comment": text},
                    environ_base={"REMOTE_ADDR": "203.0.113.66"})  # fmt: skip
    client.post("/comments", json={"thread": "s", "name": "Kind", "comment": "hello"})
    listed = client.get("/admin/comments?thread=s", headers=ADMIN).get_json()["comments"]
    (pseudonym,) = {comment["client"] for comment in listed if comment["name"] == "Spam"}
    response = client.delete("/admin/people", query_string={"client": pseudonym}, headers=ADMIN)
    assert response.get_json() == {"erased": 3}
    assert [comment["comment"] for comment in client.get("/comments?thread=s").get_json()["comments"]] == ["hello"]


def test_erased_imported_comments_do_not_come_back_with_the_import(client, clean_database):
    imported(clean_database, str(FIXTURES / "disqus.xml"))
    assert client.delete("/admin/people?email=ann@example.tld", headers=ADMIN).get_json() == {"erased": 1}
    again = imported(clean_database, str(FIXTURES / "disqus.xml"))
    assert again["imported"] == 0 and lines(client.get("/admin/people?email=ann@example.tld", headers=ADMIN))[1] == []


def test_erasing_releases_the_images(media_client, media_environment):
    data = {"name": "Ann", "comment": "pic", "email": "ann@example.tld",
            "image": [(io.BytesIO(pictures.still("PNG")), "a.png")]}  # fmt: skip
    media_client.post("/comments", data=data, content_type="multipart/form-data")
    assert len(stored_keys(media_environment)) == 1
    media_client.delete("/admin/people?email=ann@example.tld", headers=ADMIN)
    assert stored_keys(media_environment) == set()


@pytest.mark.parametrize("method", ["get", "delete"])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"}])
def test_only_the_admin_token_opens_it(client, people, method, headers):
    response = getattr(client, method)("/admin/people?email=ann@example.tld", headers=headers)
    assert response.status_code == 401 and response.get_json()["code"] == "invalid_token"
    assert client.get(f"/comments/{people['ann']['id']}").status_code == 200


@pytest.mark.parametrize(
    "query_string",
    ["", "email=ann@example.tld&client=0123456789abcdef0123456789abcdef", "email=not-an-address",
     "client=XYZ", "email=a@b.example&email=c@d.example", "name=Ann"],
)  # fmt: skip
def test_one_person_exactly_or_a_clear_error(client, query_string):
    for method in (client.get, client.delete):
        response = method(f"/admin/people?{query_string}", headers=ADMIN)
        assert response.status_code == 400 and response.get_json()["code"] == "invalid_query"
        assert_matches_openapi(response, "/admin/people", method.__name__)
