"""Hostile input: never a 500, never a traceback in the log, never a stored row."""

import logging

import pytest

from tests.test_create import stored_rows

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
BIG = str(2**64)

HOSTILE_BODIES = {
    "true as parent_id": (JSON, b'{"name": "a", "comment": "b", "parent_id": true}', 400),
    "float parent_id": (JSON, b'{"name": "a", "comment": "b", "parent_id": 1.0}', 400),
    "list as name": (JSON, b'{"name": ["a"], "comment": "b"}', 400),
    "object as comment": (JSON, b'{"name": "a", "comment": {"x": 1}}', 400),
    "number as name": (JSON, b'{"name": 5, "comment": "b"}', 400),
    "null as name": (JSON, b'{"name": null, "comment": "b"}', 400),
    "array body": (JSON, b'[{"name": "a", "comment": "b"}]', 400),
    "string body": (JSON, b'"hello"', 400),
    "null body": (JSON, b"null", 400),
    "empty body": (JSON, b"", 400),
    "truncated json": (JSON, b'{"name": "a", "comment": ', 400),
    "NUL escaped": (JSON, b'{"name": "a\\u0000b", "comment": "b"}', 400),
    "NUL in comment": (JSON, b'{"name": "a", "comment": "x\\u0000y"}', 400),
    "bell character": (JSON, b'{"name": "a", "comment": "x\\u0007"}', 400),
    "escape sequence": (JSON, b'{"name": "a", "comment": "\\u001b[31mred"}', 400),
    "DEL character": (JSON, b'{"name": "a", "comment": "x\\u007f"}', 400),
    "C1 control": (JSON, b'{"name": "a", "comment": "x\\u0085y"}', 400),
    "carriage return alone": (JSON, b'{"name": "a", "comment": "x\\ry"}', 400),
    "tab in name": (JSON, b'{"name": "a\\tb", "comment": "y"}', 400),
    "lone high surrogate": (JSON, b'{"name": "\\ud800", "comment": "b"}', 400),
    "lone low surrogate": (JSON, b'{"name": "a", "comment": "x\\udfff"}', 400),
    "lone surrogate thread": (JSON, b'{"name": "a", "comment": "b", "thread": "\\ud83d"}', 400),
    "invalid utf-8": (JSON, b'{"name": "\xff\xfe", "comment": "b"}', 400),
    "overlong utf-8": (JSON, b'{"name": "\xc0\xaf", "comment": "b"}', 400),
    "utf-16 body": (JSON, '{"name": "a", "comment": "b"}'.encode("utf-16"), 400),
    "NaN": (JSON, b'{"name": "a", "comment": "b", "parent_id": NaN}', 400),
    "Infinity": (JSON, b'{"name": "a", "comment": "b", "parent_id": Infinity}', 400),
    "deep arrays": (JSON, b"[" * 30_000 + b"]" * 30_000, 400),
    "deep objects in a field": (JSON, b'{"name": "a", "comment": ' + b'{"x":' * 30_000 + b"1" + b"}" * 30_001, 413),
    "parent_id past 64 bits": (JSON, f'{{"name": "a", "comment": "b", "parent_id": {BIG}}}'.encode(), 400),
    "parent_id at 2**63": (JSON, f'{{"name": "a", "comment": "b", "parent_id": {2**63}}}'.encode(), 400),
    "negative parent_id": (JSON, b'{"name": "a", "comment": "b", "parent_id": -1}', 400),
    "5000 digit integer": (JSON, b'{"name": "a", "comment": "b", "parent_id": ' + b"9" * 5000 + b"}", 400),
    "id supplied": (JSON, b'{"id": 1, "name": "a", "comment": "b"}', 400),
    "form with NUL": (FORM, b"name=a%00b&comment=c", 400),
    "form with bad utf-8": (FORM, b"name=%ff%fe&comment=c", 400),
    "form with raw bad utf-8": (FORM, b"name=\xff&comment=c", 400),
    "form parent_id past 64 bits": (FORM, f"name=a&comment=b&parent_id={BIG}".encode(), 400),
    "form parent_id not a number": (FORM, b"name=a&comment=b&parent_id=1e3", 400),
    "form unknown field": (FORM, b"name=a&comment=b&admin=1", 400),
    "form with too many fields": (FORM, b"&".join(b"f%d=1" % n for n in range(50)), 400),
    "xml": ("application/xml", b"<comment/>", 415),
}


@pytest.fixture
def no_errors_logged(caplog):
    caplog.set_level(logging.INFO)
    yield
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not problems, [r.getMessage() for r in problems]


@pytest.mark.parametrize("case", HOSTILE_BODIES, ids=list(HOSTILE_BODIES))
def test_hostile_bodies_are_rejected_cleanly(client, clean_database, no_errors_logged, case):
    content_type, body, status = HOSTILE_BODIES[case]

    response = client.post("/comments", data=body, content_type=content_type)

    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert set(response.get_json()) <= {"error", "code", "fields"}
    assert stored_rows(clean_database) == []


def test_five_megabyte_body_is_413(client, clean_database, no_errors_logged):
    body = b'{"name": "a", "comment": "' + b"x" * 5_000_000 + b'"}'
    response = client.post("/comments", data=body, content_type=JSON)
    assert response.status_code == 413
    assert response.get_json()["code"] == "body_too_large"
    assert stored_rows(clean_database) == []


@pytest.mark.parametrize(
    "path",
    [
        f"/comments/{BIG}",
        f"/comments/{2**63}",
        "/comments/" + "9" * 400,
        "/comments/0",
        "/comments/-1",
        "/comments/abc",
        "/comments/1.5",
        "/comments/%00",
        f"/comments?limit={BIG}",
        "/comments?limit=" + "9" * 5000,
        "/comments?cursor=" + "A" * 5000,
        "/comments?cursor=djE6LTE",  # "v1:-1"
        f"/comments?cursor={'djE6' + 'OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5'}",  # "v1:" + 24 nines
        "/comments?cursor=%ff%fe",
        "/comments?cursor=djI6MQ",  # "v2:1"
        "/comments?thread=%00",
        "/comments?thread=%ed%a0%80",  # an encoded surrogate
        "/comments?order=%ff",
    ],
)
def test_hostile_urls_are_client_errors(client, no_errors_logged, path):
    response = client.get(path)
    assert 400 <= response.status_code < 500, (path, response.status_code)
    assert response.mimetype == "application/json"


def test_unknown_paths_and_methods_are_json(client, no_errors_logged):
    missing = client.get("/nothing/here")
    assert missing.status_code == 404 and missing.get_json()["code"] == "not_found"
    wrong_method = client.delete("/comments")
    assert wrong_method.status_code == 405 and wrong_method.get_json()["code"] == "method_not_allowed"
    assert "POST" in wrong_method.headers["Allow"]
    assert client.put("/comments/1").status_code == 405
