"""How the API serves the widget: /embed.js and its files, their caching, /widget.json, and the
demo page's policy. (What the widget does in a browser is test_widget_browser.py.)

The widget is served from widget/dist when it has been built, else from widget/src; these tests
hold for both, and the ones about one way only say so."""

import re

import pytest

from api import widget
from app import create_app
from tests.conftest import settings_for
from tests.contract import assert_matches_openapi

IMPORT = re.compile(r'^import .* from "\./([a-z-]+\.js)";$', re.MULTILINE)


def test_embed_js_is_a_script_any_page_may_load(client):
    response = client.get("/embed.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert response.headers["Access-Control-Allow-Origin"] == "*"  # module scripts need CORS
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert "Content-Disposition" not in response.headers
    if widget.assets().bundled:
        assert response.headers["Cache-Control"] == "public, max-age=300"
    else:
        assert response.headers["Cache-Control"] == "no-cache"


def test_embed_js_is_revalidated_by_etag(client):
    first = client.get("/embed.js")
    again = client.get("/embed.js", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_files_named_with_their_digest_are_cached_for_a_year(client):
    stylesheet = client.get("/widget.json").get_json()["stylesheet"]
    assert re.fullmatch(r"widget/embed\.css\?v=[0-9a-f]{16}", stylesheet)
    response = client.get(f"/{stylesheet}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/css; charset=utf-8"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("query", ["", "?v=0000000000000000"])
def test_files_without_their_current_digest_are_revalidated(client, query):
    response = client.get(f"/widget/embed.css{query}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("name", ["nothing.js", "..%2Fconfig.py", "demo.html", "EMBED.JS", "embed.css.map"])
def test_only_the_widget_s_own_files_are_served(client, name):
    response = client.get(f"/widget/{name}")
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"


def test_the_source_runs_without_a_build(client):
    """`pipenv run dev` with no Node: /embed.js loads the ES modules, and every module that one
    imports is served too."""
    if widget.assets().bundled:
        pytest.skip("widget/dist is built: the bundle is served instead of the source")
    loader = client.get("/embed.js").get_data(as_text=True)
    assert '"widget/main.js"' in loader
    pending, seen = ["main.js"], set()
    while pending:
        name = pending.pop()
        seen.add(name)
        response = client.get(f"/widget/{name}")
        assert response.status_code == 200, name
        pending.extend(set(IMPORT.findall(response.get_data(as_text=True))) - seen)
    assert {"api.js", "thread.js", "form.js", "dom.js", "mine.js", "counts.js"} <= seen


def test_no_user_data_reaches_inner_html(client):
    """The widget builds every node with createElement and text nodes (see dom.js)."""
    names = widget.assets().digests
    for name in names:
        if name.endswith(".js"):
            source = client.get(f"/widget/{name}").get_data(as_text=True)
            assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", source), name


def test_widget_settings_without_images(client):
    response = client.get("/widget.json")
    assert_matches_openapi(response, "/widget.json")
    settings = response.get_json()
    assert settings["images"] is None
    assert settings["edit_window_seconds"] == 900
    assert settings["limits"] == {"name": 100, "comment": 10_000}
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_widget_settings_follow_the_server_s_settings(media_client):
    settings = media_client.get("/widget.json").get_json()
    assert settings["images"] == {"max_count": 4, "max_bytes": 5 * 1024 * 1024}


def test_widget_settings_show_the_edit_window(clean_database):
    client = create_app(settings_for(clean_database, EDIT_WINDOW_SECONDS="60")).test_client()
    assert client.get("/widget.json").get_json()["edit_window_seconds"] == 60


def test_the_demo_page_runs_under_a_strict_policy(client):
    response = client.get("/demo?thread=blog/hello")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe" not in policy
    page = response.get_data(as_text=True)
    assert '<script src="embed.js" defer></script>' in page
    assert 'data-thread="blog/hello"' in page
    assert "<style" not in page and " style=" not in page and "<script>" not in page


def test_the_demo_page_allows_images_from_the_object_store(media_client, media_environment):
    policy = media_client.get("/demo").headers["Content-Security-Policy"]
    assert f"img-src 'self' {media_environment['AWS_ENDPOINT_URL_S3']}" in policy


def test_the_demo_page_escapes_the_thread(client):
    page = client.get('/demo?thread="><script>alert(1)</script>').get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize(
    "query", ["thread=" + "t" * 201, "thread=a%00b", "page_size=0", "page_size=101", "page_size=x"]
)
def test_bad_demo_queries_are_400(client, query):
    response = client.get(f"/demo?{query}")
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_query"
