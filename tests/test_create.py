"""POST /comments: JSON and forms, validation, replies, and what gets stored."""

import psycopg2
import pytest

from tests.contract import assert_matches_openapi
from web import payload


def stored_rows(database_url: str) -> list[tuple]:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT id, thread, parent_id, name, comment FROM comments ORDER BY id")
        rows = cursor.fetchall()
    conn.close()
    return rows


def test_json_post_is_created_stored_and_located(client, clean_database):
    response = client.post("/comments", json={"name": "Ann", "comment": "Hello"})

    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"/comments/{body['id']}"
    assert body["name"] == "Ann" and body["comment"] == "Hello"
    assert body["thread"] == "default" and body["parent_id"] is None
    assert body["created_at"].endswith("Z")
    assert_matches_openapi(response, "/comments", "post")
    assert stored_rows(clean_database) == [(body["id"], "default", None, "Ann", "Hello")]


def test_form_post_works_like_curl_dash_d(client, clean_database):
    response = client.post("/comments", data={"name": "Ann", "comment": "Hi", "thread": "blog/1"})

    assert response.status_code == 201
    assert response.get_json()["thread"] == "blog/1"
    assert stored_rows(clean_database)[0][1:] == ("blog/1", None, "Ann", "Hi")


def test_created_comment_reads_back_identically(client, post):
    created = post(name="Ann", comment="Hello", thread="t").get_json()

    response = client.get(f"/comments/{created['id']}")

    assert response.status_code == 200
    token = created.pop("edit_token")
    assert response.get_json() == created  # the same comment, and never its edit token
    assert token not in response.get_data(as_text=True)
    assert_matches_openapi(response, "/comments/{comment_id}")


def test_ids_increase(post):
    ids = [post(name="Ann", comment=str(n)).get_json()["id"] for n in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3


def test_whitespace_is_trimmed_and_crlf_normalised(post):
    body = post(name="  Ann \t", comment="\n line one\r\nline\ttwo  \n").get_json()
    assert body["name"] == "Ann"
    assert body["comment"] == "line one\nline\ttwo"


def test_unicode_is_kept(post):
    body = post(name="Zoë 🦊", comment="日本語 — ok 👍🏽").get_json()
    assert (body["name"], body["comment"]) == ("Zoë 🦊", "日本語 — ok 👍🏽")


def test_reply_in_the_same_thread(post):
    parent = post(name="Ann", comment="Q", thread="t").get_json()
    reply = post(name="Bob", comment="A", thread="t", parent_id=parent["id"])
    assert reply.status_code == 201
    assert reply.get_json()["parent_id"] == parent["id"]


def test_form_reply_takes_parent_id_as_digits(client, post):
    parent = post(name="Ann", comment="Q").get_json()
    reply = client.post("/comments", data={"name": "Bob", "comment": "A", "parent_id": str(parent["id"])})
    assert reply.status_code == 201 and reply.get_json()["parent_id"] == parent["id"]


@pytest.mark.parametrize("thread", ["t", "other"])
def test_reply_to_a_missing_or_foreign_parent_is_rejected(post, clean_database, thread):
    parent = post(name="Ann", comment="Q", thread="t").get_json()
    missing_or_foreign = parent["id"] + 1000 if thread == "t" else parent["id"]

    response = post(name="Bob", comment="A", thread=thread, parent_id=missing_or_foreign)

    assert response.status_code == 400
    assert response.get_json()["code"] == "parent_not_found"
    assert response.get_json()["fields"] == {"parent_id": "names no comment in this thread"}
    assert len(stored_rows(clean_database)) == 1


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({}, {"name": "is required", "comment": "is required"}),
        ({"name": "", "comment": "x"}, {"name": "must not be empty"}),
        ({"name": "   ", "comment": "x"}, {"name": "must not be empty"}),
        ({"name": "a" * 101, "comment": "x"}, {"name": "must be at most 100 characters"}),
        ({"name": "a", "comment": "x" * 10_001}, {"comment": "must be at most 10000 characters"}),
        ({"name": "a", "comment": "x", "thread": ""}, {"thread": "must not be empty"}),
        ({"name": "a", "comment": "x", "thread": "t" * 201}, {"thread": "must be at most 200 characters"}),
        ({"name": "a\nb", "comment": "x"}, {"name": "must not contain control characters"}),
        ({"name": "a", "comment": "x", "id": 5}, {"id": "is not allowed"}),
        ({"name": "a", "comment": "x", "created_at": "2020-01-01T00:00:00Z"}, {"created_at": "is not allowed"}),
        ({"name": "a", "comment": "x", "parent_id": 0}, {"parent_id": "must be null or a positive integer id"}),
        ({"name": "a", "comment": "x", "parent_id": "1"}, {"parent_id": "must be null or a positive integer id"}),
    ],
)
def test_invalid_fields_are_named(post, clean_database, fields, expected):
    response = post(**fields)

    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == "invalid_fields"
    assert body["fields"] == expected
    assert_matches_openapi(response, "/comments", "post")
    assert stored_rows(clean_database) == []


def test_limits_are_inclusive(post):
    response = post(name="n" * 100, comment="c" * 10_000, thread="t" * 200)
    assert response.status_code == 201


def test_duplicate_form_fields_are_rejected(client):
    response = client.post(
        "/comments", data=b"name=a&name=b&comment=c", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert response.get_json()["fields"] == {"name": "must be given only once"}


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/mixed; boundary=x", "image/png", None])
def test_other_content_types_are_415(client, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/comments", data=b"name=a", headers=headers)
    assert response.status_code == 415
    assert response.get_json()["code"] == "unsupported_media_type"
    assert_matches_openapi(response, "/comments", "post")


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("multipart/form-data; boundary=x", b"name=a"),  # no boundary line at all
        ("multipart/form-data", b"--x\r\n"),  # no boundary parameter
        ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nAnn'),
        ("multipart/form-data; boundary=x", b"--x\r\nX-No-Disposition: 1\r\n\r\nAnn\r\n--x--\r\n"),
        ("multipart/form-data; boundary=" + "b" * (payload.MAX_BOUNDARY + 1), b"--x\r\n"),  # past our bound
    ],
)
def test_malformed_multipart_is_400(client, content_type, body):
    response = client.post("/comments", data=body, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert response.get_json()["code"] == "malformed_body"


def test_multipart_boundaries_longer_than_the_rfc_allows_are_accepted(client, clean_database):
    boundary = "-" * 15 + "WerkzeugFormPart_1764113129.1234567" + "1.2345678901234567e-05"  # 72, as werkzeug may make
    body = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in (("name", "Ann"), ("comment", "Long boundary"))
    )
    body += f"--{boundary}--\r\n"
    content_type = f"multipart/form-data; boundary={boundary}"
    response = client.post("/comments", data=body.encode(), headers={"Content-Type": content_type})
    assert response.status_code == 201, response.get_json()
    assert stored_rows(clean_database)[0][3:] == ("Ann", "Long boundary")


def test_multipart_with_too_many_parts_is_400_like_a_form_with_too_many_fields(client):
    parts = "".join(f'--x\r\nContent-Disposition: form-data; name="comment"\r\n\r\n{n}\r\n' for n in range(30))
    body = (parts + "--x--\r\n").encode()
    response = client.post("/comments", data=body, headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert response.status_code == 400
    assert response.get_json()["code"] == "malformed_form"


def test_multipart_parts_without_a_name_are_400(client):
    body = b"--x\r\nContent-Disposition: form-data\r\n\r\nAnn\r\n--x--\r\n"
    response = client.post("/comments", data=body, headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert response.status_code == 400 and "(unnamed part)" in response.get_json()["fields"]


def test_multipart_text_that_is_not_utf8_is_400(client):
    body = b'--x\r\nContent-Disposition: form-data; name="name"\r\n\r\n\xff\r\n--x--\r\n'
    response = client.post("/comments", data=body, headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert response.status_code == 400 and response.get_json()["code"] == "malformed_form"


def test_json_with_charset_parameter_is_accepted(client):
    response = client.post(
        "/comments", data='{"name": "a", "comment": "b"}', content_type="application/json; charset=utf-8"
    )
    assert response.status_code == 201
