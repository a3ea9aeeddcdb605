"""Small ways a request could be misread: repeated keys, odd paths, stray parameters, large
valid comments, CORS caching and preflights, forwarded addresses."""

import json
import logging
from urllib.parse import urlencode

import pytest

from app import create_app
from tests.conftest import settings_for
from tests.service import ROOT
from tests.test_create import stored_rows

CORS = "https://blog.example"


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "a", "comment": "b", "name": "admin"}',
        b'{"name": "a", "comment": "b", "comment": "b"}',
        b'{"name": "a", "comment": "b", "thread": {"x": 1, "x": 2}}',
    ],
)
def test_a_json_object_with_a_repeated_key_is_refused(client, clean_database, body):
    response = client.post("/comments", data=body, content_type="application/json")
    assert response.status_code == 400
    assert "must be given only once" in response.get_json()["fields"].values()
    assert stored_rows(clean_database) == []


@pytest.mark.parametrize("path", ["/comments//1", "//comments/1", "/comments/1/", "/comments//"])
def test_odd_slashes_are_404_never_a_redirect(client, post, path):
    post(name="a", comment="b")
    response = client.get(path, headers={"Host": "evil.example"})
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"
    assert "Location" not in response.headers


# Full-width, Arabic-Indic, extended Arabic-Indic, Devanagari and mathematical bold one.
@pytest.mark.parametrize("digits", ["\uff11", "\u0661", "\u06f1", "\u0967", "\U0001d7cf"])
def test_only_ascii_digits_are_ids(client, post, digits):
    post(name="a", comment="b")
    assert client.get("/comments/1").status_code == 200
    response = client.get(f"/comments/{digits}")
    assert response.status_code == 404 and response.get_json()["code"] == "not_found"


def test_post_refuses_query_parameters(client, clean_database):
    response = client.post("/comments?admin=1", json={"name": "a", "comment": "b"})
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "This operation takes no query parameters.",
        "code": "invalid_query",
        "fields": {"admin": "is not a known parameter"},
    }
    assert stored_rows(clean_database) == []


# The largest valid comment at its most expensive on the wire: every character outside the BMP.
WIDEST = {"thread": "🧵" * 200, "name": "🙂" * 100, "comment": "😀" * 10_000}


@pytest.mark.parametrize(
    "encode, content_type",
    [
        (lambda fields: json.dumps(fields).encode(), "application/json"),  # \ud83d\ude00 escapes
        (lambda fields: json.dumps(fields, ensure_ascii=False).encode(), "application/json"),
        (lambda fields: urlencode(fields).encode(), "application/x-www-form-urlencoded"),
    ],
    ids=["json escaped", "json utf-8", "form"],
)
@pytest.mark.parametrize("fields", [WIDEST, {"name": "李", "comment": "中" * 7_500}], ids=["widest", "7500 CJK"])
def test_every_valid_comment_fits_in_the_default_body_limit(client, encode, content_type, fields):
    response = client.post("/comments", data=encode(fields), content_type=content_type)
    assert response.status_code == 201, response.get_json()


@pytest.fixture
def cors_client(clean_database):
    return create_app(settings_for(clean_database, CORS_ORIGINS=CORS)).test_client()


@pytest.mark.parametrize("origin", [CORS, "https://other.example", None])
def test_with_cors_on_every_response_varies_by_origin(cors_client, origin):
    headers = {"Origin": origin} if origin else {}
    for response in (cors_client.get("/comments", headers=headers), cors_client.get("/nothing", headers=headers)):
        assert "Origin" in response.headers.get_all("Vary")


def test_without_cors_there_is_no_preflight(client):
    preflight = {"Origin": CORS, "Access-Control-Request-Method": "POST"}
    response = client.options("/comments", headers=preflight)
    assert response.status_code != 204
    assert "Access-Control-Allow-Origin" not in response.headers


def test_preflight_only_on_real_routes(cors_client):
    preflight = {"Origin": CORS, "Access-Control-Request-Method": "POST"}
    real = cors_client.options("/comments", headers=preflight)
    assert real.status_code == 204
    assert real.headers["Access-Control-Allow-Methods"] == "GET, OPTIONS, POST"
    unknown = cors_client.options("/nowhere", headers=preflight)
    assert unknown.status_code == 404 and unknown.get_json()["code"] == "not_found"
    assert "Access-Control-Allow-Methods" not in unknown.headers


@pytest.mark.parametrize(
    "trusted, forwarded, seen",
    [
        ("0", "203.0.113.9", "127.0.0.1"),  # no proxy configured: the header is a client's claim
        ("1", "203.0.113.9", "203.0.113.9"),
        ("1", "198.51.100.1, 203.0.113.9", "203.0.113.9"),  # the spoofed left part is ignored
        ("2", "198.51.100.1, 203.0.113.9", "198.51.100.1"),
        ("2", "203.0.113.9", "127.0.0.1"),  # fewer hops than proxies: trust none of them
    ],
)
def test_forwarded_addresses_are_trusted_only_from_configured_proxies(clean_database, caplog, trusted, forwarded, seen):
    client = create_app(settings_for(clean_database, TRUSTED_PROXIES=trusted)).test_client()
    caplog.set_level(logging.INFO, logger="comments.access")
    client.get("/healthz", headers={"X-Forwarded-For": forwarded}, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    (record,) = [r for r in caplog.records if r.name == "comments.access"]
    assert record.remote_addr == seen


@pytest.mark.skipif(not (ROOT / ".gitignore").exists(), reason="running inside the image, which has no .gitignore")
def test_local_env_files_are_ignored_by_git():
    ignored = (ROOT / ".gitignore").read_text().split()
    assert ".env" in ignored and ".env.*" in ignored and "!.env.example" in ignored
