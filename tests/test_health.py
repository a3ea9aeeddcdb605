"""/healthz, /readyz and /openapi.json."""

import pytest

from api.openapi import DOCUMENT
from app import create_app
from store import migrate
from tests.conftest import scratch_database, settings_for
from tests.contract import assert_matches_openapi


def test_healthz_never_touches_the_database(clean_database):
    # An address where nothing listens: liveness must not care.
    app = create_app(settings_for("postgresql://nobody@127.0.0.1:1/none", DB_CONNECT_TIMEOUT="2"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_ok_when_migrated(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert_matches_openapi(response, "/readyz")


def test_readyz_is_503_without_a_database():
    app = create_app(settings_for("postgresql://nobody@127.0.0.1:1/none", DB_CONNECT_TIMEOUT="2"))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["code"] == "database_unavailable"
    assert response.headers["Cache-Control"] == "no-store"
    assert_matches_openapi(response, "/readyz")


@pytest.fixture
def unmigrated_url(database_url):
    """A second, empty database on the same server."""
    with scratch_database(database_url, "comments_unmigrated") as url:
        yield url


def test_readyz_is_503_until_the_schema_is_current(unmigrated_url):
    app = create_app(settings_for(unmigrated_url))
    client = app.test_client()
    behind = client.get("/readyz")
    assert behind.status_code == 503 and behind.get_json()["code"] == "schema_outdated"
    assert_matches_openapi(behind, "/readyz")

    migrate.migrate(unmigrated_url)
    assert client.get("/readyz").status_code == 200
    app.extensions["comments_db"].close()


def test_openapi_document_is_served(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/comments",
        "/comments/{comment_id}",
        "/comments/{comment_id}/vote",
        "/preview",
        "/counts",
        "/admin/comments",
        "/admin/comments/{comment_id}",
        "/admin/events",
        "/admin/events/{delivery_id}/retry",
        "/admin/people",
        "/admin",
        "/admin/sign-in",
        "/admin/sign-out",
        "/admin/comments/{comment_id}/act",
        "/admin/app.css",
        "/admin/app.js",
        "/admin/images/{key}",
        "/admin/bulk",
        "/admin/list",
        "/admin/deliveries",
        "/admin/deliveries/{delivery_id}/retry",
        "/admin/clients/{client}/erase",
        "/admin/media/{key}",
        "/media/{key}",
        "/unsubscribe",
        "/embed.js",
        "/widget/{name}",
        "/widget.json",
        "/feed.atom",
        "/demo",
        "/healthz",
        "/readyz",
        "/openapi.json",
    }


def test_every_route_is_documented(app):
    routes = {
        rule.rule.replace("<id:comment_id>", "{comment_id}")
        .replace("<id:delivery_id>", "{delivery_id}")
        .replace("<key>", "{key}")
        .replace("<name>", "{name}")
        .replace("<client>", "{client}")
        for rule in app.url_map.iter_rules()
    }
    assert routes == set(DOCUMENT["paths"])
