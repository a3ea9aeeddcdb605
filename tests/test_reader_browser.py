# ruff: noqa: F811 (the fixtures are imported from test_widget_browser.py)
"""Issue 23's reader features in a real Chromium: formatting (and the XSS corpus, under Trusted
Types), the preview, votes, sorting, live threads, counts, the reply opt-in, and every shipped
language. Same service, demo page and rules as test_widget_browser.py: a page that logs an error
(a CSP or Trusted Types violation, an uncaught exception) fails its test."""

import json
import re
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By

from tests import browser
from tests.conftest import query
from tests.test_widget_browser import (  # noqa: F401 (fixtures)
    article_of,
    button,
    chrome,
    fill_and_post,
    main_form,
    no_page_errors,
    open_demo,
    page_port,
    seed,
    service,
    texts,
    thread,
    until,
)
from tests.xss_corpus import CORPUS

CATALOGUES = Path(__file__).resolve().parent.parent / "widget" / "src"
LANGUAGES = ["en", "de", "fr", "es", "pt", "ru", "zh-Hans", "ja", "ar"]


def by_someone_else(service, comment: dict) -> dict:
    """The test's requests and the browser share one address (one client): a comment seeded
    through the API is made another client's, so that the browser may vote on it."""
    query(service.env["DATABASE_URL"], "UPDATE comments SET client = 'someone else' WHERE id = %s", (comment["id"],))
    return comment


def vote_buttons(article):
    return article.find_elements(By.CSS_SELECTOR, "button.cw-vote")


def test_formatting_is_shown_as_formatting(chrome, service, thread):
    seed(service, thread, "Ann", "**Bold** and *slanted*, `code`\n\n> quoted\n\n- one\n- two\n\nhttps://example.org/x")
    open_demo(chrome, service, thread)
    body = chrome.find_element(By.CSS_SELECTOR, ".cw-text")
    assert body.find_element(By.TAG_NAME, "strong").text == "Bold"
    assert body.find_element(By.TAG_NAME, "em").text == "slanted"
    assert body.find_element(By.TAG_NAME, "code").text == "code"
    assert body.find_element(By.TAG_NAME, "blockquote").text == "quoted"
    assert [li.text for li in body.find_elements(By.TAG_NAME, "li")] == ["one", "two"]
    link = body.find_element(By.CSS_SELECTOR, "a[href='https://example.org/x']")
    assert link.get_attribute("rel") == "nofollow ugc noopener"


def test_the_xss_corpus_runs_nothing_under_trusted_types(chrome, service, thread):
    for payload in CORPUS:
        seed(service, thread, "Mallory", payload)
    open_demo(chrome, service, thread, page_size=100)
    until(chrome, lambda: len(texts(chrome)) == len(CORPUS))
    policy = chrome.execute_script("return document.querySelector('#comments') && window.trustedTypes !== undefined")
    assert policy  # Chromium enforces Trusted Types on the demo page (its CSP says so)
    assert chrome.execute_script("return window.__xss") is None
    found = chrome.execute_script(
        """const list = document.querySelector('.cw-list');
        const bad = list.querySelectorAll(
            'script, img, svg, math, iframe, object, embed, style, form, input, base, meta, details, video');
        const handlers = [...list.querySelectorAll('*')].flatMap((e) => [...e.attributes].map((a) => a.name))
            .filter((name) => name.startsWith('on') || name === 'style' || name === 'srcdoc');
        const links = [...list.querySelectorAll('.cw-text a')].map((a) => a.protocol);
        return { bad: bad.length, handlers, links: [...new Set(links)] };"""
    )
    assert found["bad"] == 0 and found["handlers"] == []
    assert set(found["links"]) <= {"http:", "https:", "mailto:"}
    assert "<script>window.__xss = 1</script>" in texts(chrome)  # shown as the text it is


def test_the_preview_shows_what_will_be_posted(chrome, service, thread):
    open_demo(chrome, service, thread)
    form = main_form(chrome)
    form.find_element(By.NAME, "comment").send_keys("Is *this* **it**?")
    toggle = button(form, "Preview")
    toggle.click()
    preview = until(chrome, lambda: form.find_element(By.CSS_SELECTOR, ".cw-preview em"))
    assert preview.text == "this" and toggle.get_attribute("aria-pressed") == "true"
    assert not form.find_element(By.NAME, "comment").is_displayed()
    button(form, "Write").click()
    assert form.find_element(By.NAME, "comment").is_displayed()
    fill_and_post(form, "Ann", "")
    until(chrome, lambda: chrome.find_elements(By.CSS_SELECTOR, ".cw-list .cw-text strong"))
    assert query(service.env["DATABASE_URL"], "SELECT count(*) FROM comments") == [(1,)]


def test_voting_presses_counts_and_takes_back(chrome, service, thread):
    by_someone_else(service, seed(service, thread, "Ann", "Vote on me"))
    open_demo(chrome, service, thread)
    up, down = vote_buttons(article_of(chrome, "Vote on me"))
    assert (up.text, up.get_attribute("aria-pressed"), down.get_attribute("aria-label")) == (
        "▲ 0",
        "false",
        "Downvote: 0",
    )
    up.click()
    until(chrome, lambda: vote_buttons(article_of(chrome, "Vote on me"))[0].text == "▲ 1")
    assert vote_buttons(article_of(chrome, "Vote on me"))[0].get_attribute("aria-pressed") == "true"
    open_demo(chrome, service, thread)  # remembered on this device, counted by the server
    up, down = vote_buttons(article_of(chrome, "Vote on me"))
    assert (up.text, up.get_attribute("aria-pressed")) == ("▲ 1", "true")
    down.click()  # changing one's mind
    until(chrome, lambda: [b.text for b in vote_buttons(article_of(chrome, "Vote on me"))] == ["▲ 0", "▼ 1"])
    vote_buttons(article_of(chrome, "Vote on me"))[1].click()  # pressed again: taken back
    until(chrome, lambda: [b.text for b in vote_buttons(article_of(chrome, "Vote on me"))] == ["▲ 0", "▼ 0"])
    assert query(service.env["DATABASE_URL"], "SELECT count(*) FROM votes") == [(0,)]


def test_the_reader_s_own_comment_has_no_vote_buttons(chrome, service, thread):
    open_demo(chrome, service, thread)
    fill_and_post(main_form(chrome), "Ann", "My own words")
    assert vote_buttons(article_of(chrome, "My own words")) == []


def test_sorting_oldest_newest_best(chrome, service, thread):
    first = seed(service, thread, "Ann", "first")
    seed(service, thread, "Bob", "reply to first", first["id"])
    seed(service, thread, "Cy", "second")
    liked = by_someone_else(service, seed(service, thread, "Dee", "third, liked"))
    assert requests.post(service.url(f"/comments/{liked['id']}/vote"), json={"value": 1}, timeout=5).status_code == 200
    open_demo(chrome, service, thread)
    # Read in one script: the list is redrawn as the order changes (no element goes stale midway).
    script = "return [...document.querySelectorAll('.cw-list > li > article .cw-text')].map((e) => e.innerText)"
    tops = lambda: chrome.execute_script(script)  # noqa: E731
    assert tops() == ["first", "second", "third, liked"]
    sorting = chrome.find_element(By.CSS_SELECTOR, ".cw-sort")
    button(sorting, "Newest").click()
    until(chrome, lambda: tops() == ["third, liked", "second", "first"])
    assert "reply to first" in texts(chrome)  # the reply waited for its parent, then went under it
    assert button(sorting, "Newest").get_attribute("aria-pressed") == "true"
    button(sorting, "Best").click()
    until(chrome, lambda: tops()[0] == "third, liked")
    assert tops() == ["third, liked", "first", "second"]  # ties: oldest first


def test_a_comment_posted_in_one_browser_appears_in_another_and_counts_follow(chrome, service, thread):
    seed(service, thread, "Ann", "already here")
    other = browser.start_chrome()
    try:
        open_demo(chrome, service, thread, poll=1)
        count = chrome.find_element(By.CSS_SELECTOR, "[data-comment-count]")
        until(chrome, lambda: count.text == "1 comment")
        open_demo(other, service, thread)
        fill_and_post(main_form(other), "Bob", "from the other browser")
        until(other, lambda: other.find_element(By.CSS_SELECTOR, "[data-comment-count]").text == "2 comments")
        until(chrome, lambda: "from the other browser" in texts(chrome))  # within the poll interval
        until(chrome, lambda: count.text == "2 comments")
        assert "1 new comment." in chrome.find_element(By.CSS_SELECTOR, ".cw-status").text
        # Nothing new since: the next polls are revalidations, answered 304 without a page query.
        until(
            chrome, lambda: any(e.get("path") == "/comments" and e.get("status") == 304 for e in service.log_entries())
        )
    finally:
        other.quit()


def test_the_reply_notice_opt_in_needs_an_address(chrome, service, thread):
    open_demo(chrome, service, thread)
    form = main_form(chrome)
    notify = form.find_element(By.NAME, "notify_replies")
    assert not notify.is_enabled()
    form.find_element(By.NAME, "email").send_keys("ann@example.org")
    assert notify.is_enabled()
    notify.click()
    fill_and_post(form, "Ann", "Tell me about replies")
    article_of(chrome, "Tell me about replies")
    assert query(service.env["DATABASE_URL"], "SELECT email, notify_replies FROM comments") == [
        ("ann@example.org", True)
    ]


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_renders_from_its_catalogue(chrome, service, thread, language):
    words = json.loads((CATALOGUES / f"messages-{language}.json").read_text()) if language != "en" else {}
    title = words.get("title", "Comments")
    seed(service, thread, "Ann", "Hello")
    seed(service, thread, "Bob", "Hi")
    open_demo(chrome, service, thread, lang=language)
    section = chrome.find_element(By.CSS_SELECTOR, "#comments section.cw")
    until(chrome, lambda: section.find_element(By.CSS_SELECTOR, ".cw-title").text == title)
    assert section.get_attribute("lang") == language
    assert section.get_attribute("dir") == ("rtl" if language == "ar" else "ltr")
    if language == "ar":  # replies and text run from the right
        assert chrome.execute_script("return getComputedStyle(arguments[0]).direction", section) == "rtl"
    count = chrome.find_element(By.CSS_SELECTOR, "[data-comment-count]")
    expected = chrome.execute_script(
        "const rule = new Intl.PluralRules(arguments[0]).select(2); const c = arguments[1];"
        "return (c[rule] || c.other).replace('{n}', (2).toLocaleString(arguments[0]));",
        language,
        words.get("count", {"one": "{n} comment", "other": "{n} comments"}),
    )
    until(chrome, lambda: count.text == expected)  # Russian "2 комментария", Arabic "تعليقان"
    browser.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    chrome.find_element(By.ID, "comments").screenshot(str(browser.ARTIFACTS / f"widget-{language}.png"))


def test_every_catalogue_has_every_english_string():
    i18n = (CATALOGUES / "i18n.js").read_text()
    english = set(re.findall(r"^  (\w+): ", i18n[i18n.index("const ENGLISH") : i18n.index("\n};")], re.M))
    assert len(english) > 50
    for language in LANGUAGES[1:]:
        words = json.loads((CATALOGUES / f"messages-{language}.json").read_text())
        assert set(words) == english, language
        for key, value in words.items():
            if isinstance(value, dict):
                assert "other" in value, (language, key)
