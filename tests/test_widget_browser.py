"""The embeddable widget in a real Chromium, against the real service and PostgreSQL.

Every page is the API's own demo page (strict Content-Security-Policy) or a page of another
origin; every check is what a visitor would see or do. A page that logs an error (a CSP
violation, an uncaught exception) fails the test that loaded it.
"""

import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, urlencode

import pytest
import requests
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from devtools.embedded_postgres import free_port
from tests import browser, pictures
from tests.conftest import empty_tables
from tests.service import Service

WAIT = 10  # seconds for anything the widget does


@pytest.fixture(scope="module")
def chrome():
    chrome = browser.start_chrome()
    yield chrome
    chrome.quit()


@pytest.fixture(autouse=True)
def no_page_errors(chrome):
    chrome.get_log("browser")  # what earlier tests left
    yield
    assert browser.console_errors(chrome) == []


@pytest.fixture(scope="module")
def page_port() -> int:
    return free_port()  # the other origin's port, allowed in CORS_ORIGINS


@pytest.fixture(scope="module")
def service(database_url, page_port):
    with Service(database_url, CORS_ORIGINS=f"http://127.0.0.1:{page_port}") as service:
        yield service
        service.assert_clean_logs()


@pytest.fixture
def thread(clean_database) -> str:
    return f"blog/{uuid.uuid4().hex[:8]}"


def seed(service, thread, name, comment, parent_id=None) -> dict:
    body = {"thread": thread, "name": name, "comment": comment}
    if parent_id:
        body["parent_id"] = parent_id
    response = requests.post(service.url("/comments"), json=body, timeout=5)
    assert response.status_code == 201, response.text
    return response.json()


def open_demo(chrome, service, thread, **params):
    chrome.get(service.url(f"/demo?{urlencode({'thread': thread, **params})}"))
    return wait_for_widget(chrome)


def wait_for_widget(chrome) -> str:
    host = chrome.find_element(By.ID, "comments")
    WebDriverWait(chrome, WAIT).until(lambda _: host.get_attribute("data-state") in ("ready", "error"))
    return host.get_attribute("data-state")


def until(chrome, check):
    return WebDriverWait(chrome, WAIT).until(lambda _: check())


def texts(chrome, selector=".cw-text") -> list[str]:
    return [element.text for element in chrome.find_elements(By.CSS_SELECTOR, selector)]


def fill_and_post(form, name, comment):
    name_field = form.find_element(By.NAME, "name")
    name_field.clear()
    name_field.send_keys(name)
    form.find_element(By.NAME, "comment").send_keys(comment)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def main_form(chrome):
    return chrome.find_element(By.CSS_SELECTOR, ".cw > .cw-form")


def article_of(chrome, text):
    return until(chrome, lambda: _article_with(chrome, text))


def _article_with(chrome, text):
    for article in chrome.find_elements(By.CSS_SELECTOR, "article.cw-comment"):
        if text in article.text:
            return article
    return None


def comment_id(article) -> int:
    return int(article.get_attribute("id").removeprefix("cw-comment-"))


def stored(service, thread) -> list[dict]:
    return requests.get(service.url("/comments"), params={"thread": thread}, timeout=5).json()["comments"]


def reply_texts(item) -> list[str]:
    return [reply.text for reply in item.find_elements(By.CSS_SELECTOR, ".cw-replies .cw-text")]


def button(parent, label):
    return next(b for b in parent.find_elements(By.TAG_NAME, "button") if b.text == label)


def test_the_demo_page_shows_a_thread_with_counts_and_posts_a_comment(chrome, service, thread):
    seed(service, thread, "Ann", "First!")
    assert open_demo(chrome, service, thread) == "ready"
    assert texts(chrome) == ["First!"]
    article = chrome.find_element(By.CSS_SELECTOR, "article.cw-comment")
    assert article.text.splitlines() == ["Ann", "now", "First!", "▲ 0", "▼ 0", "Reply"]  # under a minute old: "now"
    assert article.find_element(By.TAG_NAME, "time").get_attribute("title")  # the exact time, on hover
    assert chrome.find_element(By.CSS_SELECTOR, f'[data-comment-count="{thread}"]').text == "1 comment"
    feeds = chrome.find_elements(By.CSS_SELECTOR, 'head link[rel="alternate"][type="application/atom+xml"]')
    assert len(feeds) == 1  # the page's own: the widget adds none beside it
    fill_and_post(main_form(chrome), "Bob", "Second, from the widget")
    until(chrome, lambda: texts(chrome) == ["First!", "Second, from the widget"])
    assert "was posted" in chrome.find_element(By.CSS_SELECTOR, ".cw-status").text
    assert [(c["name"], c["comment"]) for c in stored(service, thread)] == [
        ("Ann", "First!"),
        ("Bob", "Second, from the widget"),
    ]


def test_replies_nest_two_levels_and_deeper_ones_say_whom_they_answer(chrome, service, thread):
    ann = seed(service, thread, "Ann", "Top")
    bea = seed(service, thread, "Bea", "Reply to Ann", ann["id"])
    seed(service, thread, "Cid", "Reply to Bea", bea["id"])
    open_demo(chrome, service, thread)
    top = chrome.find_elements(By.CSS_SELECTOR, ".cw-list > li")
    assert len(top) == 1
    assert reply_texts(top[0]) == ["Reply to Ann", "Reply to Bea"]
    assert article_of(chrome, "Reply to Bea").find_element(By.CSS_SELECTOR, ".cw-reply-to").text == "in reply to Bea"

    button(article_of(chrome, "Top"), "Reply").click()
    reply_form = until(chrome, lambda: top[0].find_element(By.CSS_SELECTOR, "form.cw-form"))
    assert chrome.execute_script("return arguments[0].contains(document.activeElement)", reply_form)
    fill_and_post(reply_form, "Dee", "A reply from the widget")
    until(chrome, lambda: "A reply from the widget" in reply_texts(top[0]))
    new = article_of(chrome, "A reply from the widget")
    assert chrome.switch_to.active_element == new  # focus on what was just posted
    assert requests.get(service.url(f"/comments/{comment_id(new)}"), timeout=5).json()["parent_id"] == ann["id"]


def test_an_author_edits_their_comment_within_the_window(chrome, service, thread):
    open_demo(chrome, service, thread)
    fill_and_post(main_form(chrome), "Ann", "Teh typo")
    article = article_of(chrome, "Teh typo")
    assert re.fullmatch(r"1[45] min left", article.find_element(By.CSS_SELECTOR, ".cw-left").text)
    button(article, "Edit").click()
    text = article.find_element(By.NAME, "comment")
    assert text.get_attribute("value") == "Teh typo"
    text.clear()
    text.send_keys("The typo, fixed")
    button(article, "Save").click()
    until(chrome, lambda: texts(chrome) == ["The typo, fixed"])
    assert article.find_element(By.CSS_SELECTOR, ".cw-edited").text == "edited"
    # The token lives on in localStorage: a reload still offers Edit.
    open_demo(chrome, service, thread)
    assert button(article_of(chrome, "The typo, fixed"), "Edit")


def test_only_the_comment_that_was_posted_here_offers_edit(chrome, service, thread, database_url):
    open_demo(chrome, service, thread)
    fill_and_post(main_form(chrome), "Ann", "Mine")
    assert button(article_of(chrome, "Mine"), "Edit")
    empty_tables(database_url)  # a database reset: the next comment gets the same id
    seed(service, thread, "Bob", "Not mine, same id")
    open_demo(chrome, service, thread)
    buttons = [b.text for b in article_of(chrome, "Not mine").find_elements(By.TAG_NAME, "button")]
    assert buttons == ["▲ 0", "▼ 0", "Reply"]  # votes: it is not the reader's own


def test_an_author_deletes_their_comment_and_a_tombstone_stays(chrome, service, thread):
    open_demo(chrome, service, thread)
    fill_and_post(main_form(chrome), "Ann", "Regrettable")
    article = article_of(chrome, "Regrettable")
    seed_reply = seed(service, thread, "Bob", "Answer to the regrettable", comment_id(article))
    button(article, "Delete").click()
    button(article, "Keep it").click()  # second thoughts first: nothing happens
    assert texts(chrome)[0] == "Regrettable"
    button(article, "Delete").click()
    button(article, "Yes, delete it").click()
    until(chrome, lambda: article.text == "deleted")
    open_demo(chrome, service, thread)
    assert chrome.find_element(By.CSS_SELECTOR, "article.cw-comment").text == "deleted"
    assert seed_reply["comment"] in texts(chrome)  # the answer stays, under the tombstone


def test_load_more_follows_the_cursor_to_the_end(chrome, service, thread):
    for n in range(7):
        seed(service, thread, "Ann", f"comment {n}")
    open_demo(chrome, service, thread, page_size=3)
    assert texts(chrome) == ["comment 0", "comment 1", "comment 2"]
    more = chrome.find_element(By.CSS_SELECTOR, ".cw-more")
    more.click()
    until(chrome, lambda: len(texts(chrome)) == 6)
    more.click()
    until(chrome, lambda: texts(chrome) == [f"comment {n}" for n in range(7)])
    assert not more.is_displayed()


def test_the_api_s_validation_errors_show_under_their_fields(chrome, service, thread):
    open_demo(chrome, service, thread)
    form = main_form(chrome)
    # maxlength stops typing past the limit; a script (or an old browser) does not.
    chrome.execute_script("arguments[0].value = arguments[1]", form.find_element(By.NAME, "name"), "n" * 101)
    form.find_element(By.NAME, "comment").send_keys("Fine text")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    name = form.find_element(By.NAME, "name")
    until(chrome, lambda: name.get_attribute("aria-invalid") == "true")
    error = chrome.find_element(By.ID, name.get_attribute("aria-describedby"))
    assert "100" in error.text
    assert chrome.switch_to.active_element == name
    assert texts(chrome) == []


def test_empty_fields_are_named_before_anything_is_sent(chrome, service, thread):
    open_demo(chrome, service, thread)
    form = main_form(chrome)
    form.find_element(By.NAME, "name").clear()
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert form.find_element(By.NAME, "name").get_attribute("aria-invalid") == "true"
    assert form.find_element(By.NAME, "comment").get_attribute("aria-invalid") == "true"


def test_markup_in_comments_is_shown_as_text_and_runs_nothing(chrome, service, thread):
    hostile = ["<img src=x onerror=\"document.title='pwned'\">", "<script>document.title='pwned'</script>"]
    for text in hostile:
        seed(service, thread, "<b>Mallory</b>", text)
    open_demo(chrome, service, thread)
    assert texts(chrome) == hostile
    assert texts(chrome, ".cw-name") == ["<b>Mallory</b>"] * 2
    assert chrome.find_elements(By.CSS_SELECTOR, ".cw img, .cw script, .cw b") == []
    assert chrome.title != "pwned"


def test_links_become_nofollow_links_and_newlines_stay(chrome, service, thread):
    seed(service, thread, "Ann", "See https://example.com/a?b=1.\nSecond line")
    open_demo(chrome, service, thread)
    link = chrome.find_element(By.CSS_SELECTOR, ".cw-text a")
    assert link.get_attribute("href") == "https://example.com/a?b=1"
    assert link.get_attribute("rel") == "nofollow ugc noopener"
    assert texts(chrome) == ["See https://example.com/a?b=1.\nSecond line"]


# Texts where JavaScript's and Python's regular expressions differ unless the pattern avoids
# \b, \s, \w and case folding: letters outside ASCII, Hangul fillers, Unicode spaces, long s.
LINK_CORPUS = [
    "https://a.example",
    "éhttps://a.example éhttp://b.example",
    "\u3164https://a.example\u3164https://b.example",
    "x_https://a.example 1http://b.example",
    "HTTPS://A.EXAMPLE Http://b.example",
    "http\u017f://a.example www.b.example ftp://c.example",  # U+017F folds to s in Python
    "a\u00a0https://a.example\u2003https://b.example\u3000https://c.example",
    "(https://a.example) <https://b.example> 'https://c.example' \"https://d.example\"",
    "https://a.example\u2028https://b.example\ufeffhttps://c.example",
    "no links here: https:/ http// hxxp://x",
]


def test_the_widget_links_exactly_what_the_server_counts(chrome, service, thread):
    """core/spam.py and the widget share one pattern (widget/src/links.js): on every text, the
    widget makes as many links as the server counted."""
    from core import spam

    open_demo(chrome, service, thread)
    shown = chrome.execute_async_script(
        """const [texts, done] = arguments;
        import(new URL("widget/dom.js", location.href)).then((dom) =>
            done(texts.map((text) => dom.textWithLinks(text).querySelectorAll("a").length)));""",
        LINK_CORPUS,
    )
    assert shown == [spam.link_count(text) for text in LINK_CORPUS]
    assert sum(shown) > 10  # the corpus has links in it


def test_keyboard_only_posting(chrome, service, thread):
    open_demo(chrome, service, thread)
    chrome.execute_script("localStorage.removeItem('comments-widget:name')")
    open_demo(chrome, service, thread)
    visited = []
    for _ in range(30):  # from the top of the page, Tab until the form's first field
        ActionChains(chrome).send_keys(Keys.TAB).perform()
        visited.append(chrome.switch_to.active_element.get_attribute("name"))
        if visited[-1] == "name":
            break
    ActionChains(chrome).send_keys("Kim", Keys.TAB, "Typed, never clicked", Keys.TAB).perform()
    assert chrome.switch_to.active_element.get_attribute("name") == "email"
    ActionChains(chrome).send_keys(Keys.TAB).perform()
    submit = chrome.switch_to.active_element
    # The reply opt-in waits for an address (disabled, out of the tab order), and so does the honeypot.
    assert submit.text == "Post comment"
    submit.send_keys(Keys.ENTER)
    until(chrome, lambda: texts(chrome) == ["Typed, never clicked"])
    assert "website" not in visited
    assert [comment["status"] for comment in stored(service, thread)] == ["published"]


def test_the_honeypot_is_hidden_from_people_and_screen_readers(chrome, service, thread):
    open_demo(chrome, service, thread)
    website = main_form(chrome).find_element(By.NAME, "website")
    assert not website.is_displayed() or website.rect["x"] + website.rect["width"] <= 0
    assert website.get_attribute("tabindex") == "-1"
    assert chrome.execute_script("return arguments[0].closest('[aria-hidden=true]') !== null", website)


def test_rate_limited_posts_get_a_friendly_message_and_keep_the_text(chrome, database_url, clean_database):
    with Service(database_url, RATE_LIMIT_POSTS="1/minute") as limited:
        open_demo(chrome, limited, "limited")
        form = main_form(chrome)
        fill_and_post(form, "Ann", "One")
        until(chrome, lambda: texts(chrome) == ["One"])
        fill_and_post(form, "Ann", "Two")
        problem = form.find_element(By.CSS_SELECTOR, ".cw-problem")
        until(chrome, lambda: "posting too quickly" in problem.text)
        assert re.search(r"try again in \d+ seconds", problem.text)
        assert form.find_element(By.NAME, "comment").get_attribute("value") == "Two"


def test_pending_comments_show_to_their_author_only(chrome, database_url, clean_database):
    with Service(database_url, MODERATION="pre") as moderated:
        open_demo(chrome, moderated, "moderated")
        fill_and_post(main_form(chrome), "Ann", "Held for review")
        article = article_of(chrome, "Held for review")
        assert article.find_element(By.CSS_SELECTOR, ".cw-badge").text == "awaiting moderation"
        assert "awaiting moderation" in chrome.find_element(By.CSS_SELECTOR, ".cw-status").text
        open_demo(chrome, moderated, "moderated")  # the author, later
        assert texts(chrome) == ["Held for review"]
        chrome.execute_script("localStorage.clear()")  # anyone else
        open_demo(chrome, moderated, "moderated")
        assert texts(chrome) == []


def test_an_unreachable_database_is_a_friendly_retryable_message(chrome, own_postgres):
    with Service(own_postgres.url) as service:
        open_demo(chrome, service, "outage")
        form = main_form(chrome)
        own_postgres.stop("immediate")
        fill_and_post(form, "Ann", "Lost?")
        problem = form.find_element(By.CSS_SELECTOR, ".cw-problem")
        until(chrome, lambda: "briefly unavailable" in problem.text)
        assert form.find_element(By.NAME, "comment").get_attribute("value") == "Lost?"
        own_postgres.start()
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()  # the same words, retried
        until(chrome, lambda: texts(chrome) == ["Lost?"])
    chrome.get_log("browser")  # the 503 itself is logged by Chromium as a failed resource


def test_images_upload_and_show(chrome, database_url, clean_database, media_environment, tmp_path):
    picture = tmp_path / "cat.png"
    picture.write_bytes(pictures.still("PNG", size=(300, 200)))
    service = Service(database_url, **media_environment)
    service.env["PUBLIC_URL"] = service.base  # where image URLs point (/media/<key>)
    with service:
        open_demo(chrome, service, "pictures")
        form = main_form(chrome)
        form.find_element(By.NAME, "image").send_keys(str(picture))
        fill_and_post(form, "Ann", "Look")
        image = until(chrome, lambda: chrome.find_element(By.CSS_SELECTOR, ".cw-images img"))
        loaded_width = "return arguments[0].complete && arguments[0].naturalWidth"
        until(chrome, lambda: chrome.execute_script(loaded_width, image) == 300)
        assert image.get_attribute("alt") == "Image 1 of 1 from Ann"


def test_a_pending_comments_images_wait_for_approval(chrome, database_url, clean_database, media_environment, tmp_path):
    picture = tmp_path / "cat.png"
    picture.write_bytes(pictures.still("PNG", size=(300, 200)))
    service = Service(database_url, MODERATION="pre", **media_environment)
    service.env["PUBLIC_URL"] = service.base
    with service:
        open_demo(chrome, service, "held-pictures")
        form = main_form(chrome)
        form.find_element(By.NAME, "image").send_keys(str(picture))
        fill_and_post(form, "Ann", "Look, later")
        article = article_of(chrome, "Look, later")
        # The API does not serve them yet (404): no broken picture, no failed request.
        assert article.find_element(By.CSS_SELECTOR, ".cw-hint").text == "1 image, shown once approved"
        assert article.find_elements(By.CSS_SELECTOR, "img") == []


class PageOfAnotherSite:
    """A site on another origin (its own port) that embeds the widget with the two lines of docs/widget.md."""

    def __init__(self, port: int, api_base: str, thread: str):
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Another site</title></head>'
            f'<body><h1>Elsewhere</h1><div id="comments" data-thread="{thread}"></div>'
            f'<script src="{api_base}/embed.js" defer></script></body></html>'
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200 if self.path == "/" else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(page if self.path == "/" else b"")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{port}/"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_a_site_in_cors_origins_embeds_the_widget(chrome, service, thread, page_port):
    seed(service, thread, "Ann", "Seen from another site")
    with PageOfAnotherSite(page_port, service.base, thread) as site:
        chrome.get(site.url)
        assert wait_for_widget(chrome) == "ready"
        assert texts(chrome) == ["Seen from another site"]
        fill_and_post(main_form(chrome), "Bob", "Posted from another site")
        until(chrome, lambda: texts(chrome) == ["Seen from another site", "Posted from another site"])
        button(article_of(chrome, "Posted from another site"), "Edit")  # the token came back too
        feeds = chrome.find_elements(By.CSS_SELECTOR, 'head link[rel="alternate"][type="application/atom+xml"]')
        assert [link.get_attribute("href") for link in feeds] == [
            service.url(f"/feed.atom?thread={quote(thread, safe='')}")
        ]


def test_a_site_not_in_cors_origins_gets_a_clean_failure(chrome, service, thread):
    seed(service, thread, "Ann", "Not for them")
    with PageOfAnotherSite(free_port(), service.base, thread) as site:
        chrome.get(site.url)
        assert wait_for_widget(chrome) == "error"
        message = chrome.find_element(By.CSS_SELECTOR, "#comments [role=alert]").text
        assert message.startswith("Comments could not be loaded.")
        assert "Not for them" not in chrome.page_source
    chrome.get_log("browser")  # Chromium logs the CORS refusal itself, which is the point


def test_screenshots_of_the_demo_page_light_and_dark(chrome, service, thread):
    ann = seed(service, thread, "Ann Example", "The widget follows the page's fonts and colours.\nNewlines stay.")
    seed(service, thread, "Bob", "And replies nest under what they answer: https://example.com/docs", ann["id"])
    seed(service, thread, "Cleo", "<script>alert('shown as text')</script>")
    browser.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        browser.prefer_color_scheme(chrome, scheme)
        open_demo(chrome, service, thread)
        background = chrome.execute_script("return getComputedStyle(document.body).backgroundColor")
        assert (background == "rgb(21, 23, 26)") == (scheme == "dark")
        chrome.find_element(By.ID, "comments").screenshot(str(browser.ARTIFACTS / f"widget-{scheme}.png"))
        chrome.save_screenshot(str(browser.ARTIFACTS / f"demo-{scheme}.png"))
    browser.prefer_color_scheme(chrome, "light")
