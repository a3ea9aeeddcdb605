"""Atom feeds: /feed.atom and /feed.atom?thread=T, read back with a real feed parser (feedparser)."""

import feedparser
import pytest

from app import create_app
from tests.conftest import TEST_ENVIRONMENT, settings_for

ADMIN = {"Authorization": f"Bearer {TEST_ENVIRONMENT['ADMIN_TOKEN']}"}


@pytest.fixture
def site(clean_database):
    app = create_app(settings_for(clean_database, SITE_URL="https://blog.example", PUBLIC_URL="https://c.example"))
    yield app.test_client()
    app.extensions["comments_db"].close()


def parse(response) -> feedparser.FeedParserDict:
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    parsed = feedparser.parse(response.get_data())
    assert not parsed.bozo, parsed.get("bozo_exception")  # well-formed, as the parser sees it
    assert parsed.version == "atom10"
    return parsed


def test_a_threads_feed_lists_its_published_comments_newest_first(site):
    first = site.post("/comments", json={"thread": "/posts/1/", "name": "Ann", "comment": "Hello <b>&</b> bye"})
    site.post("/comments", json={"thread": "/posts/1/", "name": "Bob", "comment": "Second"})
    site.post("/comments", json={"thread": "/posts/2/", "name": "Cy", "comment": "Elsewhere"})
    held = site.post("/comments", json={"thread": "/posts/1/", "name": "Bot", "comment": "x", "website": "y"})
    assert held.status_code == 201
    feed = parse(site.get("/feed.atom?thread=/posts/1/"))
    assert feed.feed.title == "Comments on /posts/1/"
    assert feed.feed.link == "https://blog.example/posts/1/"
    assert [entry.author for entry in feed.entries] == ["Bob", "Ann"]  # only published, newest first
    ann = feed.entries[1]
    # Its html (the markup in the text shown as text), as feed readers render it.
    assert ann.content[0].value == "<p>Hello &lt;b&gt;&amp;&lt;/b&gt; bye</p>" and ann.content[0].type == "text/html"
    assert ann.link == f"https://blog.example/posts/1/#comment-{first.get_json()['id']}"
    assert ann.id == f"https://c.example/comments/{first.get_json()['id']}"
    everything = parse(site.get("/feed.atom"))
    assert [entry.author for entry in everything.entries] == ["Cy", "Bob", "Ann"]


def test_hidden_and_erased_comments_leave_the_feed(site):
    made = site.post("/comments", json={"thread": "t", "name": "Ann", "comment": "Soon gone"}).get_json()
    kept = site.post("/comments", json={"thread": "t", "name": "Bob", "comment": "Stays"}).get_json()
    site.patch(f"/admin/comments/{kept['id']}", json={"status": "rejected"}, headers=ADMIN)
    site.delete(f"/comments/{made['id']}", headers={"Authorization": f"Bearer {made['edit_token']}"})
    assert parse(site.get("/feed.atom?thread=t")).entries == []


def test_revalidation_answers_304_until_something_changes(site):
    site.post("/comments", json={"thread": "t", "name": "Ann", "comment": "One"})
    first = site.get("/feed.atom?thread=t")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert first.headers["Cache-Control"] == "public, max-age=60"
    assert site.get("/feed.atom?thread=t", headers={"If-None-Match": etag}).status_code == 304
    assert site.get("/feed.atom?thread=t", headers={"If-Modified-Since": modified}).status_code == 304
    site.post("/comments", json={"thread": "t", "name": "Bob", "comment": "Two"})
    changed = site.get("/feed.atom?thread=t", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and len(parse(changed).entries) == 2


def test_an_empty_feed_is_still_valid_and_bad_queries_are_refused(site):
    assert parse(site.get("/feed.atom?thread=nothing-here")).entries == []
    for query in ("thread=", "thread=a&thread=b", "page=2"):
        response = site.get(f"/feed.atom?{query}")
        assert response.status_code == 400 and response.get_json()["code"] == "invalid_query"


def test_the_demo_page_advertises_its_threads_feed(site):
    page = site.get("/demo?thread=blog/hello").get_data(as_text=True)
    assert '<link rel="alternate" type="application/atom+xml" title="Comments on this page"' in page
    assert 'href="https://c.example/feed.atom?thread=blog%2Fhello"' in page


def test_imported_comments_join_the_feed_in_their_place_in_time(site, clean_database):
    """An import writes no event, yet its published comments are in the feed, newest first by
    their original time; its spam and its deleted comments are not."""
    from tests.test_import import FIXTURES, imported

    site.post("/comments", json={"thread": "/2014/test/", "name": "Today", "comment": "Posted here"})
    imported(clean_database, str(FIXTURES / "disqus.xml"))
    feed = parse(site.get("/feed.atom?thread=/2014/test/"))
    assert [entry.author for entry in feed.entries] == ["Today", "Fay", "Dee", "Bob", "Ann"]
    assert feed.entries[-1].published == "2014-05-01T10:00:00.000000Z"


def test_entries_carry_the_formatting_readers_see(site):
    site.post(
        "/comments", json={"thread": "t", "name": "Ann", "comment": "**Bold** and [a link](https://example.org/)"}
    )
    (entry,) = parse(site.get("/feed.atom?thread=t")).entries
    assert entry.content[0].type == "text/html"
    assert "<strong>Bold</strong>" in entry.content[0].value
    assert 'href="https://example.org/"' in entry.content[0].value
