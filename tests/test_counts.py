"""GET /counts: published comments per thread, kept in step with every change."""

import pytest

from tests.contract import assert_matches_openapi
from tests.test_ownership import bearer
from tests.test_spam import AS_ADMIN


def counts(client, *threads: str) -> dict:
    response = client.get("/counts", query_string=[("thread", t) for t in threads])
    assert response.status_code == 200, response.get_json()
    assert_matches_openapi(response, "/counts")
    return response.get_json()["counts"]


def test_counts_follow_publish_reject_and_delete(client, post):
    a = [post(name="n", comment=f"a{n}", thread="a").get_json() for n in range(3)]
    post(name="n", comment="b0", thread="b")
    assert counts(client, "a", "b", "empty") == {"a": 3, "b": 1, "empty": 0}

    client.patch(f"/admin/comments/{a[0]['id']}", json={"status": "rejected"}, headers=AS_ADMIN)
    assert counts(client, "a") == {"a": 2}
    client.patch(f"/admin/comments/{a[0]['id']}", json={"status": "published"}, headers=AS_ADMIN)
    assert counts(client, "a") == {"a": 3}

    reply = post(name="n", comment="reply", thread="a", parent_id=a[1]["id"]).get_json()
    client.delete(f"/comments/{a[1]['id']}", headers=bearer(a[1]["edit_token"]))  # a tombstone: not counted
    assert counts(client, "a") == {"a": 3}
    client.delete(f"/admin/comments/{reply['id']}", headers=AS_ADMIN)
    assert counts(client, "a") == {"a": 2}


def test_one_thread_in_two_spellings_is_one_count(client, post):
    post(name="n", comment="x", thread="caf\u00e9")
    assert counts(client, "cafe\u0301") == {"caf\u00e9": 1}


@pytest.mark.parametrize(
    "query",
    ["", "thread=", "other=1", "&".join(f"thread=t{n}" for n in range(101)), "thread=%00"],
    ids=["none", "empty", "unknown parameter", "101 threads", "control character"],
)
def test_bad_count_queries_are_400(client, query):
    response = client.get(f"/counts?{query}")
    assert response.status_code == 400 and response.get_json()["code"] == "invalid_query"


def test_a_hundred_threads_at_once(client, post):
    post(name="n", comment="x", thread="t7")
    got = counts(client, *[f"t{n}" for n in range(100)])
    assert len(got) == 100 and got["t7"] == 1 and sum(got.values()) == 1
