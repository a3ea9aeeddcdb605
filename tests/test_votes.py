"""Votes and order=top: one vote per client, counted in the vote's transaction; best first."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from api.votes import wilson_lower_bound
from app import create_app
from tests.conftest import TEST_ENVIRONMENT, query, settings_for
from tests.contract import assert_matches_openapi
from tests.service import Service
from tests.test_ownership import bearer

AUTHOR = {"REMOTE_ADDR": "198.51.100.1"}


def reader(n: int) -> dict:
    return {"REMOTE_ADDR": f"203.0.113.{n}"}


def posted(client, comment="words", thread="t", parent_id=None, **environ) -> dict:
    body = {"name": "n", "comment": comment, "thread": thread, "parent_id": parent_id}
    response = client.post("/comments", json=body, environ_base={**AUTHOR, **environ})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def vote(client, comment_id: int, value, who: dict, **kwargs):
    return client.post(f"/comments/{comment_id}/vote", json={"value": value}, environ_base=who, **kwargs)


def counts(client, comment_id: int) -> tuple[int, int]:
    shown = client.get(f"/comments/{comment_id}").get_json()
    return shown["upvotes"], shown["downvotes"]


def test_a_vote_counts_once_per_client_changes_and_is_withdrawn(client):
    comment = posted(client)
    assert (comment["upvotes"], comment["downvotes"]) == (0, 0)
    first = vote(client, comment["id"], 1, reader(1))
    assert first.status_code == 200 and first.get_json() == {
        "id": comment["id"],
        "value": 1,
        "upvotes": 1,
        "downvotes": 0,
    }
    assert_matches_openapi(first, "/comments/{comment_id}/vote", "post")
    vote(client, comment["id"], 1, reader(1))  # again: still one
    vote(client, comment["id"], 1, reader(2))
    assert counts(client, comment["id"]) == (2, 0)
    vote(client, comment["id"], -1, reader(1))  # changed its mind
    assert counts(client, comment["id"]) == (1, 1)
    withdrawn = vote(client, comment["id"], 0, reader(1))
    assert withdrawn.get_json()["upvotes"] == 1 and withdrawn.get_json()["downvotes"] == 0
    assert query(client.application.config["SETTINGS"].database_url, "SELECT count(*) FROM votes") == [(1,)]


def test_a_form_votes_too(client):
    comment = posted(client)
    answer = client.post(f"/comments/{comment['id']}/vote", data={"value": "-1"}, environ_base=reader(1))
    assert answer.status_code == 200 and answer.get_json()["downvotes"] == 1


def test_an_author_cannot_vote_on_their_own_comment(client):
    comment = posted(client)
    by_address = vote(client, comment["id"], 1, AUTHOR)
    assert by_address.status_code == 403 and by_address.get_json()["code"] == "own_comment"
    # From another address (a phone on another network) but with the comment's edit token.
    by_token = vote(client, comment["id"], 1, reader(9), headers=bearer(comment["edit_token"]))
    assert by_token.status_code == 403 and by_token.get_json()["code"] == "own_comment"
    # Another comment's token proves nothing about this one: that reader votes like anyone.
    other = posted(client, comment="mine", **reader(9))
    assert vote(client, comment["id"], 1, reader(8), headers=bearer(other["edit_token"])).status_code == 200
    assert counts(client, comment["id"]) == (1, 0)


@pytest.mark.parametrize(
    "body", [{"value": 2}, {"value": "1"}, {"value": True}, {"value": None}, {}, {"value": 1, "x": 1}]
)
def test_bad_votes_are_400(client, body):
    comment = posted(client)
    answer = client.post(f"/comments/{comment['id']}/vote", json=body, environ_base=reader(1))
    assert answer.status_code == 400
    assert set(answer.get_json()["fields"]) == ({"x"} if "x" in body else {"value"})


def test_hidden_and_missing_comments_take_no_votes(client, clean_database):
    held = posted(client, comment="held")
    query(clean_database, "UPDATE comments SET status = 'pending' WHERE id = %s", (held["id"],))
    assert vote(client, held["id"], 1, reader(1)).status_code == 404
    assert vote(client, 999999, 1, reader(1)).status_code == 404


def test_votes_are_rate_limited_apart_from_posts(clean_database):
    app = create_app(settings_for(clean_database, RATE_LIMIT_VOTES="2/minute", RATE_LIMIT_POSTS="100/minute"))
    client = app.test_client()
    try:
        ids = [posted(client, comment=f"c{n}")["id"] for n in range(3)]
        assert [vote(client, i, 1, reader(1)).status_code for i in ids] == [200, 200, 429]
        assert vote(client, ids[2], 1, reader(2)).status_code == 200  # another reader has their own
        assert posted(client, comment="posting still works", **reader(1))["id"]
        # A refused vote (own comment) does not use the limit up.
        mine = posted(client, comment="own", **reader(3))
        assert vote(client, mine["id"], 1, reader(3)).status_code == 403
        assert [vote(client, i, 1, reader(3)).status_code for i in ids[:2]] == [200, 200]
    finally:
        app.extensions["comments_db"].close()


def test_twenty_simultaneous_votes_from_one_client_count_once(clean_database):
    with Service(clean_database) as service, requests.Session() as session:
        comment = session.post(service.url("/comments"), json={"name": "a", "comment": "c", "thread": "t"}, timeout=10)
        comment_id = comment.json()["id"]
        query(clean_database, "UPDATE comments SET client = 'someone else' WHERE id = %s", (comment_id,))

        def cast(_):
            return requests.post(service.url(f"/comments/{comment_id}/vote"), json={"value": 1}, timeout=30)

        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(cast, range(20)))
        shown = requests.get(service.url(f"/comments/{comment_id}"), timeout=10).json()
    assert [answer.status_code for answer in answers] == [200] * 20
    assert (shown["upvotes"], shown["downvotes"]) == (1, 0)
    assert query(clean_database, "SELECT count(*) FROM votes") == [(1,)]


def test_erasing_a_client_takes_their_votes_back_and_erasing_a_comment_its_votes(client, clean_database):
    comment = posted(client)
    other = posted(client, comment="other")
    vote(client, comment["id"], 1, reader(1))
    vote(client, other["id"], -1, reader(1))
    vote(client, comment["id"], 1, reader(2))
    (voter,) = query(clean_database, "SELECT DISTINCT client FROM votes WHERE value = -1")[0]
    erased = client.delete(
        "/admin/people", query_string={"client": voter}, headers=bearer(TEST_ENVIRONMENT["ADMIN_TOKEN"])
    )
    assert erased.status_code == 200
    assert counts(client, comment["id"]) == (1, 0) and counts(client, other["id"]) == (0, 0)
    client.delete(f"/admin/comments/{comment['id']}", headers=bearer(TEST_ENVIRONMENT["ADMIN_TOKEN"]))
    assert query(clean_database, "SELECT count(*) FROM votes") == [(0,)]


def test_the_score_is_the_wilson_lower_bound():
    assert wilson_lower_bound(0, 0) == 0.0 and wilson_lower_bound(0, 5) == 0.0
    assert wilson_lower_bound(2, 0) < wilson_lower_bound(90, 10)  # many votes beat a lucky few
    assert wilson_lower_bound(10, 0) > wilson_lower_bound(10, 5) > wilson_lower_bound(10, 10)
    assert round(wilson_lower_bound(1, 0), 4) == 0.2065


def top(client, limit=20, cursor=None, thread="t") -> dict:
    params = {"thread": thread, "order": "top", "limit": limit, **({"cursor": cursor} if cursor else {})}
    response = client.get("/comments", query_string=params)
    assert response.status_code == 200, response.get_json()
    assert_matches_openapi(response, "/comments")
    return response.get_json()


def test_best_first_with_replies_under_each_oldest_first(client):
    a, b, c = (posted(client, comment=name) for name in "abc")
    b_reply = posted(client, comment="b1", parent_id=b["id"])
    b_deeper = posted(client, comment="b2", parent_id=b_reply["id"])
    b_later = posted(client, comment="b3", parent_id=b["id"])
    for n in range(3):
        vote(client, b["id"], 1, reader(n))
    vote(client, c["id"], 1, reader(1))
    vote(client, a["id"], -1, reader(1))
    shown = [comment["comment"] for comment in top(client)["comments"]]
    assert shown == ["b", "b1", "b2", "b3", "c", "a"]
    assert {b_deeper["id"], b_later["id"]} <= {comment["id"] for comment in top(client)["comments"]}


def test_ties_go_to_the_oldest_so_new_comments_do_not_jump_the_queue(client):
    names = [posted(client, comment=f"c{n}")["comment"] for n in range(4)]
    assert [comment["comment"] for comment in top(client)["comments"]] == names


def test_top_pages_follow_the_cursor_and_limit_counts_top_level_comments(client):
    ids = [posted(client, comment=f"c{n}")["id"] for n in range(5)]
    posted(client, comment="reply", parent_id=ids[0])
    for n, comment_id in enumerate(ids):
        for voter in range(n):  # c4 has the most votes
            vote(client, comment_id, 1, reader(voter))
    first = top(client, limit=2)
    assert [comment["comment"] for comment in first["comments"]] == ["c4", "c3"]
    second = top(client, limit=2, cursor=first["next_cursor"])
    third = top(client, limit=2, cursor=second["next_cursor"])
    assert [comment["comment"] for comment in second["comments"]] == ["c2", "c1"]
    assert [comment["comment"] for comment in third["comments"]] == ["c0", "reply"] and third["next_cursor"] is None


def test_paging_best_first_while_votes_change_sees_every_unchanged_comment_once(client):
    """The documented rule (docs/api.md): a comment whose score did not change while a reader
    pages is seen exactly once; one whose score changed may be seen again or skipped."""
    ids = [posted(client, comment=f"c{n}")["id"] for n in range(8)]
    for n, comment_id in enumerate(ids):
        for voter in range(n):
            vote(client, comment_id, 1, reader(voter))
    seen, cursor, moved = [], None, set()
    while True:
        page = top(client, limit=3, cursor=cursor)
        seen += [comment["id"] for comment in page["comments"]]
        # Between pages, one comment already seen falls and one not yet seen rises.
        for voter in range(20, 27):
            vote(client, seen[0], -1, reader(voter))
        rising = next((i for i in ids if i not in seen and i not in moved), None)
        if rising:
            for voter in range(30, 40):
                vote(client, rising, 1, reader(voter))
        moved |= {seen[0], *([rising] if rising else [])}
        if not (cursor := page["next_cursor"]):
            break
    for comment_id in set(ids) - moved:
        assert seen.count(comment_id) == 1


def test_order_top_needs_a_thread_and_its_own_cursor(client):
    posted(client)
    assert client.get("/comments?order=top").status_code == 400
    oldest = client.get("/comments?thread=t&limit=1").get_json()
    assert (
        client.get(
            "/comments", query_string={"thread": "t", "order": "top", "cursor": oldest["poll_cursor"]}
        ).status_code
        == 400
    )


def test_a_vote_changes_the_thread_s_tag(client):
    comment = posted(client)
    etag = client.get("/comments?thread=t").headers["ETag"]
    vote(client, comment["id"], 1, reader(1))
    assert client.get("/comments?thread=t", headers={"If-None-Match": etag}).status_code == 200


def test_votes_wait_out_moderation_and_count_again_when_republished(client):
    """Votes meet moderation: a rejected comment takes no votes and shows none publicly, and
    when a moderator publishes it again its earlier votes are still counted."""
    comment = posted(client)
    vote(client, comment["id"], 1, reader(1))
    admin = bearer(TEST_ENVIRONMENT["ADMIN_TOKEN"])
    assert (
        client.patch(f"/admin/comments/{comment['id']}", json={"status": "rejected"}, headers=admin).status_code == 200
    )
    assert vote(client, comment["id"], 1, reader(2)).status_code == 404
    assert client.get(f"/comments/{comment['id']}").status_code == 404
    assert (
        client.patch(f"/admin/comments/{comment['id']}", json={"status": "published"}, headers=admin).status_code == 200
    )
    assert counts(client, comment["id"]) == (1, 0)
