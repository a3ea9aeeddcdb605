"""The public reads are answered before Flask (api/comments.py ReadsFirst): every answer must be
the one Flask's views give, byte for byte, and everything else must still reach Flask."""

import io
import logging

import pytest

import db
from api.comments import ReadsFirst
from app import create_app
from core.exceptions import DatabaseUnavailable
from tests import pictures
from tests.conftest import settings_for
from tests.test_ownership import bearer

ORIGIN = "https://blog.example"


@pytest.fixture
def both(clean_database):
    """A client through ReadsFirst, and one straight to Flask's views, on one app and database."""
    return front_and_flask(create_app(settings_for(clean_database, CORS_ORIGINS=ORIGIN)))


def front_and_flask(app):
    front = app.wsgi_app
    assert isinstance(front, ReadsFirst)

    def ask(method: str, url: str, headers: dict, through_front: bool):
        app.wsgi_app = front if through_front else front.wsgi_app
        try:
            return app.test_client().open(url, method=method, headers=headers)
        finally:
            app.wsgi_app = front

    return app.test_client(), ask


def a_thread_with_everything(client) -> list[int]:
    """Formatting, a reply, an edit, votes, a tombstone with a reply, a held comment."""
    made = [
        client.post("/comments", json={"name": "a", "comment": text, "thread": "t"}).get_json()
        for text in (
            "*emphasis*, a [link](https://example.org/) and `code`",
            'Ünïcödé ✓ 日本語 "quotes" and \\ backslashes',
            "to be edited",
            "to be deleted",
        )
    ]
    ids = [comment["id"] for comment in made]
    reply = {"name": "b", "comment": "a reply", "thread": "t", "parent_id": ids[3]}
    ids.append(client.post("/comments", json=reply).get_json()["id"])
    edit = client.patch(f"/comments/{ids[2]}", json={"comment": "edited"}, headers=bearer(made[2]["edit_token"]))
    erase = client.delete(f"/comments/{ids[3]}", headers=bearer(made[3]["edit_token"]))
    vote = client.post(f"/comments/{ids[0]}/vote", json={"value": 1}, environ_base={"REMOTE_ADDR": "192.0.2.7"})
    links = " ".join(f"https://{n}.example" for n in range(5))
    held = {"name": "c", "comment": f"see {links}", "thread": "t"}
    pending = client.post("/comments", json=held).get_json()
    assert (edit.status_code, erase.status_code, vote.status_code, pending["status"]) == (200, 204, 200, "pending")
    return [*ids, pending["id"]]


def assert_same_answers(ask, urls: list[str], asked: list[dict]) -> None:
    for url in urls:
        for method in ("GET", "HEAD"):
            for headers in asked:
                front, flask = ask(method, url, headers, True), ask(method, url, headers, False)
                where = (method, url, headers)
                assert front.status_code == flask.status_code, where
                assert front.data == flask.data, where
                assert sorted(front.headers) == sorted(flask.headers), where  # (order means nothing)


def test_every_read_is_flasks_answer_byte_for_byte(both):
    client, ask = both
    ids = a_thread_with_everything(client)
    page = client.get("/comments?thread=t&limit=2")
    etag, next_url = page.headers["ETag"], page.headers["Link"].split(">")[0].lstrip("<")
    urls = [
        "/comments?thread=t",
        "/comments?thread=t&limit=2",
        next_url,
        "/comments?thread=t&order=newest",
        "/comments?thread=t&order=top",
        "/comments",
        "/comments?thread=nobody",
        *(f"/comments/{comment_id}" for comment_id in ids),
    ]
    asked = [
        {"X-Request-ID": "same-id"},
        {"X-Request-ID": "same-id", "Origin": ORIGIN},
        {"X-Request-ID": "same-id", "Origin": "https://elsewhere.example"},
        {"X-Request-ID": "same-id", "If-None-Match": etag},
    ]
    assert_same_answers(ask, urls, asked)
    assert ask("GET", "/comments?thread=t&limit=2", {"If-None-Match": etag}, True).status_code == 304


def test_images_are_read_as_flask_shows_them(media_app):
    # Image URLs come from media_urls() in the page's SQL: the same through either door.
    client, ask = front_and_flask(media_app)
    picture = [(io.BytesIO(pictures.still("PNG")), "a.png")]
    data = {"name": "Ann", "comment": "a picture", "thread": "t", "image": picture}
    made = client.post("/comments", data=data, content_type="multipart/form-data").get_json()
    assert made["images"]
    urls = ["/comments?thread=t", f"/comments/{made['id']}"]
    assert_same_answers(ask, urls, [{"X-Request-ID": "same-id"}])
    assert client.get("/comments?thread=t").get_json()["comments"][0]["images"] == made["images"]


@pytest.mark.parametrize(
    "method, url, status",
    [
        ("GET", "/comments/999999", 404),
        ("GET", "/comments/0", 404),
        ("GET", "/comments/99999999999999999999", 404),
        ("GET", "/comments/\uff11\uff12", 404),  # full-width digits are no id
        ("GET", "/comments?limit=0", 400),
        ("GET", "/comments?cursor=nonsense", 400),
        ("GET", "/comments?thread=t&extra=1", 400),
        ("GET", "/comments/", 404),
        ("GET", "/comments/1/vote", 405),
        ("POST", "/comments?thread=t", 400),
        ("DELETE", "/comments/1", 401),
    ],
)
def test_everything_else_is_flasks_to_answer(both, method, url, status):
    client, ask = both
    a_thread_with_everything(client)
    front, flask = (
        ask(method, url, {"X-Request-ID": "same-id"}, True),
        ask(method, url, {"X-Request-ID": "same-id"}, False),
    )
    assert front.status_code == flask.status_code == status
    assert front.data == flask.data
    if status != 405:
        assert front.get_json()["code"]


def test_a_read_is_logged_once_with_its_request_id(client, post, json_lines):
    comment_id = post(name="a", comment="first", thread="t").get_json()["id"]
    lines = json_lines(lambda: client.get(f"/comments/{comment_id}", headers={"X-Request-ID": "read-1"}))
    (line,) = [entry for entry in lines if entry.get("logger") == "comments.access"]
    assert line["request_id"] == "read-1" and line["status"] == 200 and line["path"] == f"/comments/{comment_id}"
    assert line["bytes"] == len(client.get(f"/comments/{comment_id}").data) and line["method"] == "GET"


def test_a_read_that_goes_on_to_flask_keeps_one_request_id(client, post, json_lines, monkeypatch):
    post(name="a", comment="first", thread="t")
    seen = []

    def unavailable(self, *args, **kwargs):
        logging.getLogger("comments.test").warning("inside the read")  # logged before Flask
        raise DatabaseUnavailable()

    monkeypatch.setattr(db.CommentDatabase, "page", unavailable)
    lines = json_lines(lambda: seen.append(client.get("/comments?thread=t")))
    (response,) = seen
    assert response.status_code == 503
    inside = [line for line in lines if line.get("message") == "inside the read"]
    access = [line for line in lines if line.get("logger") == "comments.access"]
    assert len(inside) == 1 and len(access) == 1  # tried once, answered once
    assert inside[0]["request_id"] == access[0]["request_id"] == response.headers["X-Request-ID"]
