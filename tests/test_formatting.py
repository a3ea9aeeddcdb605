"""Markdown rendered once at write time into `html`: the allow-list, the XSS corpus, edits,
imports, earlier comments, and the preview."""

from html.parser import HTMLParser
from urllib.parse import urlsplit

import psycopg2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.formatting import ATTRIBUTES, SCHEMES, TAGS, is_untouched, render, render_markdown
from store import migrate
from tests.conftest import TEST_ENVIRONMENT, query
from tests.test_import import FIXTURES, imported
from tests.test_ownership import bearer
from tests.xss_corpus import CORPUS


class Allowed(HTMLParser):
    """Fails on any tag, attribute or link outside the allow-list."""

    def handle_starttag(self, tag, attrs):
        assert tag in TAGS, tag
        for name, value in attrs:
            assert name in ATTRIBUTES.get(tag, set()) | ({"rel"} if tag == "a" else set()), (tag, name)
            if name == "href":
                assert urlsplit(value).scheme in SCHEMES, value
            if name == "rel":
                assert value == "nofollow ugc noopener"

    def handle_comment(self, data):
        raise AssertionError(f"a comment survived: {data}")


def assert_allowed(html: str) -> None:
    Allowed().feed(html)


def post(client, text: str, **fields) -> dict:
    response = client.post("/comments", json={"name": "n", "comment": text, "thread": "t", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.mark.parametrize(
    "text, html",
    [
        ("plain words", "<p>plain words</p>"),
        ("*em* **strong** `code`", "<p><em>em</em> <strong>strong</strong> <code>code</code></p>"),
        ("one\ntwo\n\nthree", "<p>one<br>\ntwo</p>\n<p>three</p>"),
        ("> quoted", "<blockquote>\n<p>quoted</p>\n</blockquote>"),
        ("- a\n- b", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>"),
        ("3. c\n4. d", '<ol start="3">\n<li>c</li>\n<li>d</li>\n</ol>'),
        ("```\n<b>x</b>\n```", "<pre><code>&lt;b&gt;x&lt;/b&gt;\n</code></pre>"),
        ("[a](https://example.org/)", '<p><a href="https://example.org/" rel="nofollow ugc noopener">a</a></p>'),
        ("[m](mailto:a@example.org)", '<p><a href="mailto:a@example.org" rel="nofollow ugc noopener">m</a></p>'),
        (
            "see https://example.org/x.",
            '<p>see <a href="https://example.org/x" rel="nofollow ugc noopener">https://example.org/x</a>.</p>',
        ),
        ("# not a heading", "<p># not a heading</p>"),
        ("---", "<p>---</p>"),
        ("<b>raw</b>", "<p>&lt;b&gt;raw&lt;/b&gt;</p>"),
        (
            "![alt](https://example.org/i.png)",
            '<p>!<a href="https://example.org/i.png" rel="nofollow ugc noopener">alt</a></p>',
        ),
        ("[only a definition]: https://example.org", "<p>[only a definition]: https://example.org</p>"),
    ],
)
def test_the_markdown_subset(text, html):
    assert render(text) == html


# Characters near every rule the shortcut must stay clear of: emphasis, code, escapes, entities,
# links and autolinks, list and quote markers, line ends, U+00A0, combining marks, other digits.
NEAR_MARKDOWN = st.sampled_from([*"aZé日ß ².,;:'\"?!()/%$@+=-09_*`~<>&#[]\\|{}\n\t", "\u00a0", "\u0301", "٣", "www."])


@settings(max_examples=3000, deadline=None)
@given(st.lists(NEAR_MARKDOWN, min_size=1, max_size=25).map("".join) | st.text(min_size=1, max_size=40))
def test_words_no_rule_touches_render_as_markdown_would(text):
    # render()'s shortcut: a comment no Markdown rule touches is its own paragraph.
    if is_untouched(text):
        assert render(text) == render_markdown(text) == f"<p>{text}</p>"


@pytest.mark.parametrize(
    "text, untouched",
    [
        ("Great post, thanks!", True),
        ('Ça va? "Très" bien (merci) - 日本語 2026.', True),
        ("2. not a list here", False),
        ("a *b*", False),
        ("see https://example.org", False),
        ("two\nlines", False),
        ("trailing space ", False),
    ],
)
def test_the_shortcut_takes_only_untouched_words(text, untouched):
    assert is_untouched(text) == untouched
    assert render(text) == render_markdown(text)


def test_the_api_shows_the_source_and_its_html(client):
    created = post(client, "Hello *you*")
    assert created["comment"] == "Hello *you*" and created["html"] == "<p>Hello <em>you</em></p>"
    assert client.get(f"/comments/{created['id']}").get_json()["html"] == created["html"]
    assert client.get("/comments?thread=t").get_json()["comments"][0]["html"] == created["html"]


@pytest.mark.parametrize("payload", CORPUS)
def test_no_payload_of_the_corpus_survives_in_the_stored_html(client, clean_database, payload):
    created = post(client, payload)
    (stored,) = query(clean_database, "SELECT html FROM comments WHERE id = %s", (created["id"],))[0]
    assert stored == created["html"]
    assert_allowed(stored)  # the markup: only allowed tags, attributes and link schemes
    assert "<script" not in stored.lower() and " on" not in _attributes_of(stored)


def _attributes_of(html: str) -> str:
    """Every attribute name=value written in the markup's tags (not in its text)."""
    found = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.extend(f" {name}={value}" for name, value in attrs)

    Collect().feed(html)
    return "".join(found)


def test_an_edit_renders_again(client):
    created = post(client, "first *try*")
    edited = client.patch(
        f"/comments/{created['id']}", json={"comment": "second **try**"}, headers=bearer(created["edit_token"])
    )
    assert edited.get_json()["html"] == "<p>second <strong>try</strong></p>"
    renamed = client.patch(f"/comments/{created['id']}", json={"name": "m"}, headers=bearer(created["edit_token"]))
    assert renamed.get_json()["html"] == "<p>second <strong>try</strong></p>"  # a name change keeps it


def test_erasure_takes_the_html_too(client, clean_database):
    created = post(client, "gone *soon*")
    post(client, "a reply keeps a tombstone", parent_id=created["id"])
    admin = bearer(TEST_ENVIRONMENT["ADMIN_TOKEN"])
    assert client.delete(f"/admin/comments/{created['id']}", headers=admin).status_code == 204
    assert client.get(f"/comments/{created['id']}").get_json()["html"] is None
    assert query(clean_database, "SELECT html FROM comments WHERE id = %s", (created["id"],)) == [(None,)]


def test_imported_comments_are_rendered(client, clean_database):
    imported(clean_database, str(FIXTURES / "disqus.xml"))
    rows = query(clean_database, "SELECT comment, html FROM comments WHERE comment IS NOT NULL")
    assert rows and all(html == render(comment) for comment, html in rows)
    assert query(clean_database, "SELECT count(*) FROM comments WHERE comment IS NULL AND html IS NOT NULL") == [(0,)]


def test_comments_from_before_formatting_are_rendered_by_the_migration_runner(client, clean_database):
    created = [post(client, f"old *{n}*")["id"] for n in range(5)]
    query(clean_database, "UPDATE comments SET html = NULL")
    conn = psycopg2.connect(clean_database)
    try:
        assert migrate.render_unrendered(conn) == 5
    finally:
        conn.close()
    assert query(clean_database, "SELECT id, html FROM comments ORDER BY id") == [
        (comment_id, f"<p>old <em>{n}</em></p>") for n, comment_id in enumerate(created)
    ]
    assert migrate.migrate(clean_database) == []  # and again: nothing left to do


def test_the_preview_renders_without_storing(client, clean_database):
    answer = client.post("/preview", json={"comment": "**bold** <script>x</script>"})
    assert answer.status_code == 200
    assert answer.get_json() == {"html": "<p><strong>bold</strong> &lt;script&gt;x&lt;/script&gt;</p>"}
    assert client.post("/preview", data={"comment": "_form_"}).status_code == 415  # JSON only, as the widget sends
    assert query(clean_database, "SELECT count(*) FROM comments") == [(0,)]
    empty = client.post("/preview", json={"comment": "  "})
    assert empty.status_code == 400 and "comment" in empty.get_json()["fields"]
    assert client.post("/preview", json={"comment": "x", "name": "n"}).status_code == 400


def test_previews_have_a_limit_of_their_own(client):
    """The preview meets the limiter: its own allowance per client (60 a minute), apart from posts."""
    answers = [client.post("/preview", json={"comment": f"try {n}"}).status_code for n in range(61)]
    assert answers[:60] == [200] * 60 and answers[60] == 429
    assert client.post("/comments", json={"name": "n", "comment": "posting is not limited by it"}).status_code == 201
