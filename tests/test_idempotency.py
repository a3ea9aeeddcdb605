"""Idempotency-Key on POST /comments and the author's PATCH and DELETE, against real PostgreSQL
(and a real gunicorn for requests that race)."""

import threading

import psycopg2
import pytest
import requests

from tests.service import Service


def count(database_url: str, sql: str) -> int:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute(sql)
        (n,) = cursor.fetchone()
    conn.close()
    return n


def keyed(key: str, **headers) -> dict:
    return {"Idempotency-Key": key, **headers}


def test_a_repeated_post_answers_exactly_the_first_answer_and_creates_nothing(client, clean_database):
    body = {"name": "Ann", "comment": "once only"}
    first = client.post("/comments", json=body, headers=keyed("retry-1"))
    again = client.post("/comments", json=body, headers=keyed("retry-1"))
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()  # edit_token included
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert count(clean_database, "SELECT count(*) FROM comments") == 1
    token = again.get_json()["edit_token"]
    edited = client.patch(
        first.headers["Location"], json={"comment": "changed"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert edited.status_code == 200


def test_the_same_key_with_another_body_is_422(client, clean_database):
    assert client.post("/comments", json={"name": "A", "comment": "one"}, headers=keyed("k")).status_code == 201
    reused = client.post("/comments", json={"name": "A", "comment": "two"}, headers=keyed("k"))
    assert reused.status_code == 422 and reused.get_json()["code"] == "idempotency_key_reused"
    form = client.post("/comments", data={"name": "A", "comment": "one"}, headers=keyed("k"))
    assert form.status_code == 201  # the same fields, sent as a form: the same request
    assert count(clean_database, "SELECT count(*) FROM comments") == 1


def test_keys_belong_to_one_client_address(client, clean_database):
    body = {"name": "A", "comment": "same words, two people"}
    for address in ("198.51.100.1", "198.51.100.2"):
        response = client.post("/comments", json=body, headers=keyed("shared"), environ_base={"REMOTE_ADDR": address})
        assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert count(clean_database, "SELECT count(*) FROM comments") == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "clé", "tab\there"])
def test_malformed_keys_are_400(client, clean_database, key):
    response = client.post("/comments", json={"name": "A", "comment": "x"}, headers={"Idempotency-Key": key})
    assert response.status_code == 400 and response.get_json()["code"] == "invalid_idempotency_key"
    assert count(clean_database, "SELECT count(*) FROM comments") == 0


def test_failures_are_not_saved_so_a_retry_runs_again(client, clean_database):
    body = {"name": "A", "comment": "reply", "parent_id": 999}
    for _ in range(2):
        response = client.post("/comments", json=body, headers=keyed("failing"))
        assert response.status_code == 400 and "Idempotent-Replayed" not in response.headers
    assert count(clean_database, "SELECT count(*) FROM idempotency_keys") == 0


def test_a_repeated_delete_answers_its_first_204(client, clean_database):
    created = client.post("/comments", json={"name": "A", "comment": "bye"}).get_json()
    bearer = {"Authorization": f"Bearer {created['edit_token']}"}
    first = client.delete(f"/comments/{created['id']}", headers=keyed("delete-1", **bearer))
    again = client.delete(f"/comments/{created['id']}", headers=keyed("delete-1", **bearer))
    assert first.status_code == again.status_code == 204 and again.headers["Idempotent-Replayed"] == "true"
    assert client.delete(f"/comments/{created['id']}", headers=bearer).status_code == 404  # without the key


def test_a_repeated_edit_answers_its_first_answer(client, clean_database):
    created = client.post("/comments", json={"name": "A", "comment": "v1"}).get_json()
    bearer = {"Authorization": f"Bearer {created['edit_token']}"}
    first = client.patch(f"/comments/{created['id']}", json={"comment": "v2"}, headers=keyed("edit", **bearer))
    again = client.patch(f"/comments/{created['id']}", json={"comment": "v2"}, headers=keyed("edit", **bearer))
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    other = client.patch(f"/comments/{created['id']}", json={"comment": "v3"}, headers=keyed("edit", **bearer))
    assert other.status_code == 422


def test_a_replay_still_needs_no_token_but_a_new_change_does(client, clean_database):
    created = client.post("/comments", json={"name": "A", "comment": "mine"}).get_json()
    wrong = {"Authorization": "Bearer " + "x" * 32}
    assert client.delete(f"/comments/{created['id']}", headers=keyed("d", **wrong)).status_code == 401
    assert count(clean_database, "SELECT count(*) FROM idempotency_keys") == 0


def test_expired_keys_run_again_and_are_pruned(client, clean_database):
    body = {"name": "A", "comment": "old"}
    client.post("/comments", json=body, headers=keyed("old-key"))
    with psycopg2.connect(clean_database) as conn, conn.cursor() as cursor:
        cursor.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
    conn.close()
    again = client.post("/comments", json={"name": "A", "comment": "new words"}, headers=keyed("old-key"))
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    from web.idempotency import PRUNE

    with psycopg2.connect(clean_database) as conn, conn.cursor() as cursor:
        cursor.execute("INSERT INTO idempotency_keys (client, key, fingerprint, created_at)"
                       " VALUES ('c', 'stale', '\\x00', now() - interval '2 days')")  # fmt: skip
        cursor.execute(PRUNE)
    conn.close()
    assert count(clean_database, "SELECT count(*) FROM idempotency_keys WHERE key = 'stale'") == 0
    assert count(clean_database, "SELECT count(*) FROM idempotency_keys WHERE key = 'old-key'") == 1


def test_two_requests_with_one_key_at_the_same_moment_make_one_comment(clean_database):
    with Service(clean_database) as service:
        answers = []
        barrier = threading.Barrier(8)

        def post():
            barrier.wait()
            response = requests.post(
                service.url("/comments"), json={"name": "A", "comment": "racing"}, headers=keyed("race"), timeout=10
            )
            answers.append((response.status_code, response.json()))

        threads = [threading.Thread(target=post) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        service.assert_clean_logs()
    assert {status for status, _ in answers} == {201}
    assert len({body["id"] for _, body in answers}) == 1
    assert len({body["edit_token"] for _, body in answers}) == 1
    assert count(clean_database, "SELECT count(*) FROM comments") == 1
