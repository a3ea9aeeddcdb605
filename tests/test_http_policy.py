"""Headers on every response, CORS, request ids, and what a bug looks like from outside."""

import logging
import threading

import psycopg2
import pytest

from app import create_app
from tests.conftest import settings_for


@pytest.fixture
def cors_client(clean_database):
    app = create_app(settings_for(clean_database, CORS_ORIGINS="https://blog.example, https://shop.example/"))
    return app.test_client()


@pytest.mark.parametrize("path", ["/comments", "/comments/1", "/healthz", "/nothing", "/openapi.json"])
def test_every_response_is_json_and_nosniff(client, path):
    response = client.get(path)
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Request-ID"]


def test_errors_are_not_cached_and_successes_carry_no_error_header(client):
    assert client.get("/comments/1").headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/comments").headers.get("Cache-Control", "")


def test_no_cors_headers_by_default(client):
    response = client.get("/comments", headers={"Origin": "https://blog.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_allows_listed_origins_only(cors_client):
    allowed = cors_client.get("/comments", headers={"Origin": "https://blog.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://blog.example"
    assert "Origin" in allowed.headers["Vary"]
    assert "Location" in allowed.headers["Access-Control-Expose-Headers"]
    other = cors_client.get("/comments", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def preflight(client, path: str, origin: str, method: str, headers: str):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


def test_cors_preflight(cors_client):
    response = preflight(cors_client, "/comments", "https://shop.example", "POST", "Content-Type")
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]


def test_cors_lets_pages_send_tokens_and_keys_and_read_retry_after(cors_client):
    """What the widget needs from another origin: edit tokens, Idempotency-Key, Retry-After."""
    headers = "authorization, content-type, idempotency-key"
    response = preflight(cors_client, "/comments/1", "https://blog.example", "PATCH", headers)
    assert response.status_code == 204
    allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed
    answer = cors_client.get("/comments", headers={"Origin": "https://blog.example"})
    assert "Retry-After" in answer.headers["Access-Control-Expose-Headers"]


def test_cors_wildcard(clean_database):
    client = create_app(settings_for(clean_database, CORS_ORIGINS="*")).test_client()
    response = client.get("/comments", headers={"Origin": "https://anyone.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    "incoming, kept",
    [("abc-123", True), ("a" * 64, True), ("a" * 65, False), ("bad id", False), ('x", "forged": "1', False)],
)
def test_request_ids_are_echoed_only_when_safe(client, incoming, kept):
    response = client.get("/healthz", headers={"X-Request-ID": incoming})
    assert (response.headers["X-Request-ID"] == incoming) is kept
    assert len(response.headers["X-Request-ID"]) <= 64


def test_access_log_line_has_the_fields(client, caplog, clean_database):
    caplog.set_level(logging.INFO, logger="comments.access")
    blocker = psycopg2.connect(clean_database)
    blocker.cursor().execute("LOCK TABLE comments IN EXCLUSIVE MODE")  # the POST waits for it...
    threading.Timer(0.3, blocker.rollback).start()  # ...for 0.3 s
    response = client.post("/comments", json={"name": "a", "comment": "secret body text"})
    blocker.close()
    (record,) = [r for r in caplog.records if r.name == "comments.access"]
    assert (record.method, record.path, record.status) == ("POST", "/comments", 201)
    assert 300 <= record.duration_ms < 3000, record.duration_ms  # the whole request, waiting included
    assert record.bytes == len(response.get_data())
    assert "secret body text" not in caplog.text


def test_json_log_lines_carry_the_request_id(client, json_lines):
    lines = json_lines(lambda: client.get("/healthz", headers={"X-Request-ID": "line-check"}))
    (line,) = [entry for entry in lines if entry.get("logger") == "comments.access"]
    assert line["request_id"] == "line-check" and line["status"] == 200 and line["level"] == "info"
    assert {"time", "method", "path", "duration_ms", "bytes"} <= set(line)


def test_a_bug_is_a_json_500_without_internals_and_logged_once_with_traceback(app, json_lines):
    def broken():
        raise RuntimeError("internal detail: password=hunter2")

    app.add_url_rule("/broken", view_func=broken)

    responses = []
    lines = json_lines(lambda: responses.append(app.test_client().get("/broken", headers={"X-Request-ID": "bug-1"})))
    (response,) = responses

    assert response.status_code == 500
    assert response.get_json() == {"error": "Something went wrong on our side.", "code": "internal_error"}
    assert b"hunter2" not in response.data and b"Traceback" not in response.data
    (error,) = [line for line in lines if "traceback" in line]
    assert error["request_id"] == "bug-1" and "RuntimeError" in error["traceback"]
    (access,) = [line for line in lines if line.get("logger") == "comments.access"]
    assert access["status"] == 500 and access["level"] == "error"
