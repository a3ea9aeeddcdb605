"""Public reads are JSON made by PostgreSQL (db.py): the bytes must be exactly what orjson wrote
from the same values before, for every kind of text a comment may hold."""

import io
from dataclasses import fields

import orjson
import pytest

from comment import Comment
from tests import pictures

TEXTS = [
    'quotes " and backslashes \\ and slashes /',
    "lines\nand\ttabs\n\nand a blank one",
    "non-ASCII: café, 東京, Ελληνικά, עברית\u200f, emoji 😀👍🏽, a joiner 👩\u200d💻",
    "separators \u2028 and \u2029, a DEL-free line, <b>markup</b> & entities &amp;",
    "x" * 10_000,
]


def exact(body: bytes) -> dict:
    """The parsed body, after checking it is byte for byte what orjson writes of it."""
    parsed = orjson.loads(body)
    assert orjson.dumps(parsed) == body
    return parsed


def test_a_page_is_what_orjson_would_write(client):
    created = [client.post("/comments", json={"thread": "t", "name": f"N{n}", "comment": text}).get_json()
               for n, text in enumerate(TEXTS)]  # fmt: skip
    reply = client.post("/comments", json={"thread": "t", "name": "R", "comment": "re", "parent_id": created[0]["id"]})
    response = client.get("/comments?thread=t&limit=3")
    page = exact(response.get_data())
    assert list(page) == ["comments", "next_cursor", "poll_cursor"]
    assert [list(comment) for comment in page["comments"]] == [[f.name for f in fields(Comment)]] * 3
    following = exact(client.get(f"/comments?thread=t&limit=100&cursor={page['next_cursor']}").get_data())
    shown = page["comments"] + following["comments"]
    assert [c["comment"] for c in shown] == [*TEXTS, "re"] and following["next_cursor"] is None
    for made, seen in zip([*created, reply.get_json()], shown, strict=True):
        assert seen == {key: value for key, value in made.items() if key != "edit_token"}


def test_an_empty_page(client):
    page = exact(client.get("/comments?thread=nothing-here").get_data())
    assert page["comments"] == [] and page["next_cursor"] is None


@pytest.mark.parametrize("text", TEXTS)
def test_one_comment_is_what_orjson_would_write(client, text):
    made = client.post("/comments", json={"name": "Ann", "comment": text}).get_json()
    seen = exact(client.get(f"/comments/{made['id']}").get_data())
    assert seen == {key: value for key, value in made.items() if key != "edit_token"}


def test_images_are_what_orjson_would_write(media_client):
    data = {"name": "Ann", "comment": "two pictures"}
    data["image"] = [(io.BytesIO(pictures.still("PNG")), "a.png"), (io.BytesIO(pictures.animated_gif(3)), "b.gif")]
    made = media_client.post("/comments", data=data, content_type="multipart/form-data").get_json()
    one = exact(media_client.get(f"/comments/{made['id']}").get_data())
    page = exact(media_client.get("/comments").get_data())
    assert one["images"] == made["images"] == page["comments"][0]["images"]
    assert [list(image) for image in one["images"]] == [["url", "content_type", "width", "height", "bytes"]] * 2
