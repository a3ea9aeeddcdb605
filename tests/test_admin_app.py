"""The admin web app at /admin (first part): sign-in and sessions, the queue and its actions, and
what keeps it safe (cookie flags, CSRF, Origin, CSP, the sign-in limit). Flask's client for the
HTTP rules, a real Chromium against gunicorn for a moderator's walk through it."""

import io
import re
import time
from urllib.parse import urlsplit

import pytest
import requests
from selenium.webdriver.common.by import By

from app import create_app
from tests import browser
from tests.conftest import TEST_ENVIRONMENT, query, settings_for
from tests.service import Service
from tests.test_moderators import add

ORIGIN = {"Origin": "http://localhost"}  # the test client's own origin
TOKEN = TEST_ENVIRONMENT["ADMIN_TOKEN"]
WAITING = "//section[@aria-labelledby='pending-heading']//article[.//strong[text()='{name}']]"  # a waiting comment


def sign_in(client, secret: str = TOKEN):
    return client.post("/admin/sign-in", data={"secret": secret}, headers=ORIGIN)


def csrf(client) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]{32})"', client.get("/admin").get_data(as_text=True)).group(1)


def test_signing_in_sets_a_locked_down_session_cookie_and_shows_the_queue(client):
    client.post("/comments", json={"name": "Ann", "comment": "Hello"})
    response = sign_in(client)
    assert response.status_code == 303 and response.headers["Location"] == "/admin"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    assert "Max-Age=43200" in cookie and "Secure" not in cookie  # PUBLIC_URL is http here
    page = client.get("/admin")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Signed in as <strong>admin</strong>" in text
    assert "<title>(0) Moderation</title>" in text and "Hello" in text  # the latest, below the (empty) queue
    assert "Hello" in client.get("/admin/list").get_data(as_text=True)


def test_the_cookie_is_secure_when_public_url_is_https(clean_database):
    app = create_app(settings_for(clean_database, PUBLIC_URL="https://comments.example"))
    response = app.test_client().post("/admin/sign-in", data={"secret": TOKEN}, headers=ORIGIN)
    assert "Secure" in response.headers["Set-Cookie"]
    app.extensions["comments_db"].close()


def test_every_page_is_locked_down(client):
    signed_out = (client.get("/admin"), sign_in(client, "wrong"), client.get("/admin/list"))
    signed_in = (sign_in(client), client.get("/admin"), client.get("/admin/list"), client.get("/admin/deliveries"))
    for response in (*signed_out, *signed_in):
        headers = response.headers
        assert headers["X-Frame-Options"] == "DENY" and headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self';" in policy and "unsafe" not in policy  # the app's own file, nothing inline


@pytest.mark.parametrize("secret", ["", "wrong", "mod_" + "x" * 43, TOKEN + "x"])
def test_a_wrong_secret_opens_nothing_and_says_nothing_more(client, secret):
    response = sign_in(client, secret)
    assert response.status_code == 401 and "Set-Cookie" not in response.headers
    assert "That secret opens nothing here." in response.get_data(as_text=True)
    assert "Signed in" not in client.get("/admin").get_data(as_text=True)


def test_failed_sign_ins_are_limited_per_client(client):
    for _ in range(10):
        assert sign_in(client, "wrong").status_code == 401
    assert sign_in(client, "wrong").status_code == 429
    assert sign_in(client).status_code == 429  # not even the right secret is checked now
    other = {"environ_base": {"REMOTE_ADDR": "198.51.100.9"}}
    assert client.post("/admin/sign-in", data={"secret": TOKEN}, headers=ORIGIN, **other).status_code == 303


def test_a_moderator_account_signs_in_and_acts_under_its_name(client, clean_database):
    secret = add(clean_database, "alice")
    held = client.post("/comments", json={"name": "Ann", "comment": "Approve me"}).get_json()
    sign_in(client, secret)
    response = client.post(f"/admin/comments/{held['id']}/act", data={"action": "rejected", "csrf": csrf(client)},
                           headers=ORIGIN)  # fmt: skip
    assert response.status_code == 303 and "rejected" in response.headers["Location"]
    assert query(clean_database, "SELECT moderator, action FROM moderation_log") == [("alice", "set_status")]
    assert client.get(f"/comments/{held['id']}").status_code == 404


def test_actions_need_the_sessions_csrf_token_and_this_origin(client, clean_database):
    made = client.post("/comments", json={"name": "Ann", "comment": "Keep me"}).get_json()
    sign_in(client)
    token = csrf(client)
    act = f"/admin/comments/{made['id']}/act"
    assert client.post(act, data={"action": "erase", "csrf": "0" * 32}, headers=ORIGIN).status_code == 403
    assert client.post(act, data={"action": "erase"}, headers=ORIGIN).status_code == 403
    evil = {"Origin": "https://evil.example"}
    assert client.post(act, data={"action": "erase", "csrf": token}, headers=evil).status_code == 403
    assert client.post(act, data={"action": "erase", "csrf": token}).status_code == 403  # no Origin at all
    assert client.get(f"/comments/{made['id']}").status_code == 200  # nothing was done
    assert client.post(act, data={"action": "erase", "csrf": token}, headers=ORIGIN).status_code == 303
    assert client.get(f"/comments/{made['id']}").status_code == 404


def test_signing_out_ends_the_session_on_the_server(client, clean_database):
    sign_in(client)
    cookie = client.get_cookie("comments_admin", path="/admin").value
    response = client.post("/admin/sign-out", data={"csrf": csrf(client)}, headers=ORIGIN)
    assert response.status_code == 303 and query(clean_database, "SELECT count(*) FROM admin_sessions") == [(0,)]
    client.set_cookie("comments_admin", cookie, path="/admin")  # a copy of the old cookie
    assert "Signed in" not in client.get("/admin").get_data(as_text=True)


def test_removing_an_account_ends_its_sessions(client, clean_database):
    from tests.test_moderators import moderators

    sign_in(client, add(clean_database, "alice"))
    assert "Signed in as <strong>alice</strong>" in client.get("/admin").get_data(as_text=True)
    moderators(clean_database, "remove", "alice")
    assert "Signed in" not in client.get("/admin").get_data(as_text=True)


def test_a_session_expires(client, clean_database):
    sign_in(client)
    query(clean_database, "UPDATE admin_sessions SET expires_at = now() - interval '1 second'")
    assert "Signed in" not in client.get("/admin").get_data(as_text=True)


def test_a_forged_cookie_opens_nothing(client):
    client.set_cookie("comments_admin", "a-token-not-signed-by-this-service", path="/admin")
    assert "Signed in" not in client.get("/admin").get_data(as_text=True)


def test_words_are_shown_as_text_never_as_markup(client):
    client.post("/comments", json={"name": "<img src=x onerror=alert(1)>", "comment": "<script>alert(1)</script>"})
    sign_in(client)
    text = client.get("/admin/list").get_data(as_text=True)
    assert "<script>alert" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<img src=x" not in text


def test_a_moderator_works_through_the_queue_in_a_real_browser(database_url, clean_database):
    with Service(database_url, MODERATION="pre") as service:
        for name in ("Ann", "Bob"):
            requests.post(service.url("/comments"), json={"name": name, "comment": f"Held words of {name}"}, timeout=5)
        chrome = browser.start_chrome()
        try:
            chrome.get(service.url("/admin"))
            secret = chrome.find_element(By.ID, "secret")
            assert chrome.find_element(By.CSS_SELECTOR, "label[for=secret]").text == "Your moderator secret"
            secret.send_keys(TOKEN)
            secret.submit()
            _wait(lambda: chrome.title == "(2) Moderation")
            ann = chrome.find_element(By.XPATH, WAITING.format(name="Ann"))
            ann.find_element(By.XPATH, ".//button[text()='Approve']").click()
            assert not ann.is_displayed()  # at once; sent after the few seconds in which it can be undone
            assert "Comment approved." in chrome.find_element(By.ID, "undo-bar").text
            bob = chrome.find_element(By.XPATH, WAITING.format(name="Bob"))
            bob.find_element(By.TAG_NAME, "summary").click()  # Delete asks to confirm, inline
            bob.find_element(By.XPATH, ".//button[text()='Delete for good']").click()
            _wait(lambda: query(clean_database, "SELECT name, status FROM comments") == [("Ann", "published")], 15)
            chrome.refresh()
            _wait(lambda: chrome.title == "(0) Moderation")
            listed = requests.get(service.url("/comments"), timeout=5).json()["comments"]
            assert [comment["name"] for comment in listed] == ["Ann"]
            chrome.find_element(By.XPATH, "//button[text()='Sign out']").click()
            _wait(lambda: chrome.find_elements(By.ID, "secret"))
            assert browser.console_errors(chrome) == []  # no CSP violation on any page
        finally:
            chrome.quit()


def _wait(condition, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the page did not get there in time"
        time.sleep(0.05)


def test_every_comment_filtered_and_paged_newest_first(client):
    for n in range(60):
        client.post("/comments", json={"thread": "a" if n % 2 else "b", "name": f"N{n}", "comment": f"words {n}"})
    client.post("/comments", json={"thread": "a", "name": "Other", "comment": "x"},
                environ_base={"REMOTE_ADDR": "198.51.100.77"})  # fmt: skip
    sign_in(client)
    first = client.get("/admin/list?thread=a").get_data(as_text=True)
    names = re.findall(r'<strong id="who-\d+">([^<]+)</strong>', first)
    assert names[:3] == ["Other", "N59", "N57"] and len(names) == 31 and 'rel="next"' not in first
    everything = client.get("/admin/list").get_data(as_text=True)
    older = re.search(r'rel="next" href="([^"]+)"', everything).group(1).replace("&amp;", "&")
    rest = re.findall(r'<strong id="who-\d+">([^<]+)</strong>', client.get(older).get_data(as_text=True))
    assert len(rest) == 11 and rest[-1] == "N0"  # 61 comments: 50, then 11, each once
    pseudonym = re.search(r"client=([0-9a-f]{32})\">all from this client</a>", first).group(1)
    mine = client.get(f"/admin/list?client={pseudonym}").get_data(as_text=True)
    assert len(re.findall(r'<strong id="who-\d+">', mine)) in (1, 60)  # Other's, or the test client's


def test_erase_everything_from_one_client(client, clean_database):
    for text in ("buy", "cheap"):
        client.post("/comments", json={"name": "Spam", "comment": text}, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    client.post("/comments", json={"name": "Kind", "comment": "hello"})
    sign_in(client)
    page = client.get("/admin/list").get_data(as_text=True)
    spam_article = page[page.index(">Spam<") :]
    pseudonym = re.search(r"/admin/clients/([0-9a-f]{32})/erase", spam_article).group(1)
    response = client.post(f"/admin/clients/{pseudonym}/erase", data={"csrf": csrf(client)}, headers=ORIGIN)
    assert response.status_code == 303 and "2+comments" in response.headers["Location"]
    assert [c["name"] for c in client.get("/comments").get_json()["comments"]] == ["Kind"]
    assert query(clean_database, "SELECT DISTINCT action, moderator FROM moderation_log") == [
        ("erase_by_client", "admin")
    ]


def test_failed_deliveries_are_shown_and_retried(client, clean_database):
    made = client.post("/comments", json={"name": "Ann", "comment": "Hello"}).get_json()
    (event,) = query(clean_database, "SELECT id FROM outbox WHERE type = 'comment.created'")[0]
    query(clean_database, "INSERT INTO deliveries (event, comment_id, destination, state, attempts, last_error)"
                          " VALUES (%s, %s, 'https://user:pw@hooks.example/in?key=1', 'failed', 10, 'HTTP 500')",
          (event, made["id"]))  # fmt: skip
    sign_in(client)
    page = client.get("/admin/deliveries").get_data(as_text=True)
    assert "HTTP 500" in page and "hooks.example" in page and "pw" not in page  # no credentials shown
    delivery = re.search(r"/admin/deliveries/(\d+)/retry", page).group(1)
    response = client.post(f"/admin/deliveries/{delivery}/retry", data={"csrf": csrf(client)}, headers=ORIGIN)
    assert response.status_code == 303 and "sent+again" in response.headers["Location"]
    assert query(clean_database, "SELECT state, attempts FROM deliveries WHERE id = %s", (delivery,)) == [
        ("pending", 0)
    ]


def test_at_a_glance(clean_database):
    app = create_app(settings_for(clean_database, MODERATION="pre", RATE_LIMIT_POSTS="5/minute"))
    client = app.test_client()
    for n in range(3):
        client.post("/comments", json={"name": "Ann", "comment": f"held {n}"})
    query(clean_database, "UPDATE comments SET created_at = now() - interval '2 days' WHERE comment = 'held 0'")
    sign_in(client)
    page = client.get("/admin").get_data(as_text=True)
    assert "<strong>3</strong> waiting" in page and "moderation before publishing" in page and "5 per 60 s" in page
    chart = re.search(r'<title id="chart-title">Comments per day, last 30 days: ([0-9, ]+)</title>', page).group(1)
    assert chart.split(", ")[-3:] == ["1", "0", "2"] and len(chart.split(", ")) == 30
    app.extensions["comments_db"].close()


def test_search_finds_words_and_names_and_takes_any_input(client):
    client.post("/comments", json={"name": "Pat", "comment": "Cheap pills, buy now"})
    client.post("/comments", json={"name": "Quinn", "comment": "A thoughtful reply about café culture"})
    client.post("/comments", json={"name": "Ravi", "comment": "Pills are not the answer"})
    sign_in(client)

    def found(words: str) -> list[str]:
        page = client.get("/admin/list", query_string={"q": words})
        assert page.status_code == 200
        return re.findall(r'<strong id="who-\d+">([^<]+)</strong>', page.get_data(as_text=True))

    assert found("pills") == ["Ravi", "Pat"]  # any case, newest first
    assert found("quinn") == ["Quinn"] and found("café") == ["Quinn"]
    assert found('"buy now"') == ["Pat"] and found("pills -cheap") == ["Ravi"]
    for odd in ("&|!(", "''", "\\", ":*", "a" * 500):
        assert found(odd) == []


def test_each_comment_says_which_rule_held_it(clean_database):
    app = create_app(settings_for(clean_database, MAX_LINKS="1"))
    client = app.test_client()
    links = client.post("/comments", json={"name": "Lin", "comment": "https://a.example https://b.example"})
    bot = client.post("/comments", json={"name": "Bot", "comment": "hi", "website": "http://spam.example"})
    fine = client.post("/comments", json={"name": "Fin", "comment": "fine"}).get_json()
    edited = client.patch(f"/comments/{fine['id']}", json={"comment": "now https://a.example https://b.example"},
                          headers={"Authorization": f"Bearer {fine['edit_token']}"})  # fmt: skip
    assert (links.status_code, bot.status_code, edited.get_json()["status"]) == (201, 201, "pending")
    held = dict(query(clean_database, "SELECT name, held_by FROM comments"))
    assert held == {"Lin": "links", "Bot": "honeypot", "Fin": "links"}
    sign_in(client)
    page = client.get("/admin/list").get_data(as_text=True)
    assert "held: more links than allowed" in page and "caught by the honeypot (a bot)" in page
    pre = create_app(settings_for(clean_database, MODERATION="pre"))
    pre.test_client().post("/comments", json={"name": "Pre", "comment": "waits"})
    assert query(clean_database, "SELECT held_by FROM comments WHERE name = 'Pre'") == [("moderation",)]
    for opened in (app, pre):
        opened.extensions["comments_db"].close()


@pytest.fixture
def moderating(database_url, clean_database):
    """A real gunicorn holding three comments for moderation, and Chromium signed in to /admin."""
    with Service(database_url, MODERATION="pre") as service:
        for name in ("Ann", "Bob", "Cy"):
            requests.post(service.url("/comments"), json={"name": name, "comment": f"Held words of {name}"}, timeout=5)
        chrome = browser.start_chrome()
        try:
            chrome.get(service.url("/admin"))
            chrome.find_element(By.ID, "secret").send_keys(TOKEN + "\n")
            _wait(lambda: chrome.title == "(3) Moderation")
            yield service, chrome
            assert browser.console_errors(chrome) == []
        finally:
            chrome.quit()


def _statuses(clean_database) -> dict:
    return dict(query(clean_database, "SELECT name, status FROM comments"))


def _keys(chrome, keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(chrome).send_keys(keys).perform()


def test_the_keyboard_moves_acts_and_can_be_undone(moderating, clean_database):
    _, chrome = moderating
    _keys(chrome, "jj")
    assert chrome.switch_to.active_element.get_attribute("id").startswith("comment-")
    assert "Bob" in chrome.switch_to.active_element.text
    _keys(chrome, "a")  # Bob approved: gone from the queue at once, sent after the undo delay
    bar = chrome.find_element(By.ID, "undo-bar")
    assert bar.is_displayed() and "Comment approved." in bar.text
    _wait(lambda: _statuses(clean_database)["Bob"] == "published", timeout=15)
    _keys(chrome, "k")  # back to Ann
    _keys(chrome, "d")
    assert chrome.switch_to.active_element.text == "Delete for good"  # the inline confirmation
    _keys(chrome, "\n")
    assert "Comment deleted." in bar.text
    bar.find_element(By.TAG_NAME, "button").click()  # Undo
    assert "Undone." in bar.text and chrome.find_element(By.XPATH, WAITING.format(name="Ann")).is_displayed()
    time.sleep(6)
    assert _statuses(clean_database) == {"Ann": "pending", "Bob": "published", "Cy": "pending"}
    _keys(chrome, "?")
    assert chrome.find_element(By.ID, "shortcuts").get_attribute("open") is not None
    _keys(chrome, "?")
    assert chrome.find_element(By.ID, "shortcuts").get_attribute("open") is None


def test_a_selection_is_acted_on_together(moderating, clean_database):
    _, chrome = moderating
    for name in ("Ann", "Cy"):
        chrome.find_element(By.XPATH, WAITING.format(name=name)).find_element(
            By.CSS_SELECTOR, "input[type=checkbox]"
        ).click()
    chrome.find_element(By.XPATH, "//button[text()='Reject selected']").click()
    assert "2 comments rejected." in chrome.find_element(By.ID, "undo-bar").text
    _wait(lambda: _statuses(clean_database) == {"Ann": "rejected", "Bob": "pending", "Cy": "rejected"}, timeout=15)


def test_leaving_the_page_sends_what_was_waiting(moderating, clean_database):
    service, chrome = moderating
    _keys(chrome, "jr")  # Ann rejected, then the moderator leaves at once
    chrome.get(service.url("/admin/list"))
    _wait(lambda: _statuses(clean_database)["Ann"] == "rejected")


def test_a_comments_images_show_to_signed_in_moderators_only(media_client, media_environment):
    from tests import pictures

    data = {"name": "Ann", "comment": "a picture", "image": [(io.BytesIO(pictures.still("PNG")), "a.png")]}
    made = media_client.post("/comments", data=data, content_type="multipart/form-data").get_json()
    key = made["images"][0]["url"].rsplit("/", 1)[1]
    assert media_client.get(f"/admin/images/{key}").status_code == 404  # not signed in: nothing here
    sign_in(media_client)
    page = media_client.get("/admin/list")
    assert f'<img src="/admin/images/{key}" width="120" height="80"' in page.get_data(as_text=True)
    store = urlsplit(media_environment["AWS_ENDPOINT_URL_S3"])
    assert f"img-src 'self' {store.scheme}://{store.netloc};" in page.headers["Content-Security-Policy"]
    redirect = media_client.get(f"/admin/images/{key}")
    assert redirect.status_code == 302 and redirect.headers["Cache-Control"] == "no-store"
    assert requests.get(redirect.headers["Location"], timeout=10).content == pictures_bytes(media_environment, key)


def pictures_bytes(environment: dict, key: str) -> bytes:
    from tests.conftest import s3_client

    return s3_client(environment).get_object(Bucket=environment["MEDIA_BUCKET"], Key=key)["Body"].read()


def test_a_moderators_day_in_a_real_browser(database_url, clean_database, media_environment):
    """Sign-in (a wrong secret, then the right one), a pending comment's image, reject by button,
    bulk approve, search, a client's comments erased, an expired session; screenshots of the queue
    in light and dark (test-artifacts/). No console error or CSP violation on any page."""
    from tests import pictures

    with Service(database_url, MODERATION="pre", TRUSTED_PROXIES="1", **media_environment) as service:
        post = {"data": {"name": "Ann", "comment": "A picture of my cat"},
                "files": {"image": ("cat.png", pictures.still("PNG"), "image/png")}}  # fmt: skip
        requests.post(service.url("/comments"), timeout=10, **post)
        others = [("Bob", "A kind word", "198.51.100.2"), ("Cy", "Another kind word", "198.51.100.3"),
                  ("Spam", "cheap pills", "203.0.113.9"), ("Spam", "more pills", "203.0.113.9")]  # fmt: skip
        for name, words, address in others:
            fields, sender = {"name": name, "comment": words}, {"X-Forwarded-For": address}
            requests.post(service.url("/comments"), json=fields, headers=sender, timeout=5)
        chrome = browser.start_chrome(width=900, height=1400)
        try:
            chrome.get(service.url("/admin"))
            chrome.find_element(By.ID, "secret").send_keys("not-the-secret\n")
            _wait(lambda: "That secret opens nothing here." in chrome.page_source)
            chrome.find_element(By.ID, "secret").send_keys(TOKEN + "\n")
            _wait(lambda: chrome.title == "(5) Moderation")
            cat = chrome.find_element(By.XPATH, WAITING.format(name="Ann")).find_element(By.TAG_NAME, "img")
            _wait(
                lambda: chrome.execute_script("return arguments[0].complete && arguments[0].naturalWidth", cat) == 120
            )
            for scheme in ("light", "dark"):
                browser.prefer_color_scheme(chrome, scheme)
                chrome.save_screenshot(str(browser.ARTIFACTS / f"admin-queue-{scheme}.png"))
            browser.prefer_color_scheme(chrome, "light")
            chrome.find_element(By.XPATH, WAITING.format(name="Cy")).find_element(
                By.XPATH, ".//button[text()='Reject']"
            ).click()
            for name in ("Ann", "Bob"):
                chrome.find_element(By.XPATH, WAITING.format(name=name)).find_element(
                    By.CSS_SELECTOR, "input[type=checkbox]"
                ).click()
            chrome.find_element(By.XPATH, "//button[text()='Approve selected']").click()
            _wait(lambda: _statuses(clean_database) == {"Ann": "published", "Bob": "published", "Cy": "rejected",
                                                        "Spam": "pending"}, timeout=15)  # fmt: skip
            chrome.get(service.url("/admin/list"))
            chrome.find_element(By.ID, "q").send_keys("pills\n")
            _wait(lambda: "q=pills" in chrome.current_url)
            shown = [element.text for element in chrome.find_elements(By.CSS_SELECTOR, "article strong")]
            assert shown == ["Spam", "Spam"]
            spam = chrome.find_elements(By.CSS_SELECTOR, "article.comment")[0]
            spam.find_element(By.XPATH, ".//summary[text()='Erase everything from this client']").click()
            spam.find_element(By.XPATH, ".//button[starts-with(text(), 'Erase all')]").click()
            _wait(lambda: "2 comments of that client erased." in chrome.page_source)
            assert query(clean_database, "SELECT count(*) FROM comments WHERE name = 'Spam'") == [(0,)]
            query(clean_database, "UPDATE admin_sessions SET expires_at = now() - interval '1 second'")
            chrome.refresh()
            _wait(lambda: chrome.find_elements(By.ID, "secret"))  # the session expired: sign in again
            assert browser.console_errors(chrome) == []
        finally:
            chrome.quit()
