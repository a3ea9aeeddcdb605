"""`pipenv run export`: every comment as a JSON line, parents before replies, private fields only
when asked, filters by thread and time; run as the real command against real PostgreSQL."""

import io
import os
import subprocess
import sys

import orjson

from tests import pictures
from tests.conftest import TEST_ENVIRONMENT, query, stored_keys
from tests.service import ROOT

ADMIN = {"Authorization": f"Bearer {TEST_ENVIRONMENT['ADMIN_TOKEN']}"}


def export(database_url: str, *arguments: str) -> tuple[dict, list[dict]]:
    env = {**os.environ, **TEST_ENVIRONMENT, "DATABASE_URL": database_url}
    result = subprocess.run(
        [sys.executable, "-m", "transfer.export", *arguments], cwd=ROOT, env=env, capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr.decode()
    header, *lines = [orjson.loads(line) for line in result.stdout.splitlines()]
    return header, lines


def seed(client) -> dict:
    first = client.post("/comments", json={"thread": "a", "name": "Ann", "comment": "Hello", "email": "ann@x.example",
                                           "notify_replies": True}).get_json()  # fmt: skip
    reply = client.post("/comments", json={"thread": "a", "name": "Bob", "comment": "Hi", "parent_id": first["id"]})
    held = client.post("/comments", json={"thread": "b", "name": "Cy", "comment": "bot", "website": "x"}).get_json()
    client.delete(f"/comments/{first['id']}", headers={"Authorization": f"Bearer {first['edit_token']}"})
    return {"first": first, "reply": reply.get_json(), "held": held}


def test_every_comment_in_an_order_that_recreates_the_threads(client, clean_database):
    made = seed(client)
    header, lines = export(clean_database)
    assert header["format"] == "comments-api" and header["version"] == 1
    assert header["fields"] == ["id", "thread", "parent_id", "name", "comment", "status", "created_at", "edited_at",
                                "images"]  # fmt: skip
    assert [line["id"] for line in lines] == [made["first"]["id"], made["reply"]["id"], made["held"]["id"]]
    tombstone, reply, held = lines
    assert tombstone["status"] == "deleted" and tombstone["name"] is None and tombstone["comment"] is None
    # The words as written: their rendering (html) is made again by whoever imports them; votes
    # are readers' (by pseudonym), not the comment's, and stay here.
    derived = ("edit_token", "html", "upvotes", "downvotes")
    assert reply == {key: value for key, value in made["reply"].items() if key not in derived}
    assert held["status"] == "rejected" and held["comment"] == "bot"  # what moderators see: everything
    assert all(set(line) == set(header["fields"]) for line in lines)


def test_private_fields_only_when_asked(client, clean_database):
    client.post("/comments", json={"name": "Ann", "comment": "Hello", "email": "ann@x.example", "notify_replies": True})
    _, public = export(clean_database)
    header, private = export(clean_database, "--private")
    assert "email" not in public[0] and "client" not in public[0]
    assert header["fields"][-3:] == ["email", "notify_replies", "client"]
    assert private[0]["email"] == "ann@x.example" and private[0]["notify_replies"] is True
    assert len(private[0]["client"]) == 32


def test_filters_by_thread_and_time(client, clean_database):
    seed(client)
    _, thread_b = export(clean_database, "--thread", "b")
    assert [line["thread"] for line in thread_b] == ["b"]
    query(clean_database, "UPDATE comments SET created_at = '2020-01-01T00:00:00Z' WHERE thread = 'a'")
    _, recent = export(clean_database, "--since", "2021-01-01T00:00:00Z")
    assert [line["thread"] for line in recent] == ["b"]


def test_a_bad_time_is_refused_with_a_clear_error(clean_database):
    env = {**os.environ, **TEST_ENVIRONMENT, "DATABASE_URL": clean_database}
    result = subprocess.run([sys.executable, "-m", "transfer.export", "--since", "yesterday"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2 and "is not an ISO 8601 time" in result.stderr and result.stdout == ""


def test_images_are_exported_as_their_object_keys(media_client, clean_database, media_environment):
    data = {"name": "Ann", "comment": "a picture", "image": [(io.BytesIO(pictures.still("PNG")), "a.png")]}
    made = media_client.post("/comments", data=data, content_type="multipart/form-data").get_json()
    _, (line,) = export(clean_database)
    (image,) = line["images"]
    assert list(image) == ["key", "content_type", "width", "height", "bytes"]
    assert made["images"][0]["url"].endswith(f"/media/{image['key']}") and image["key"] in stored_keys(
        media_environment
    )
