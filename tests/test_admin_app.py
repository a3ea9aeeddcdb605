"""The admin web app at /admin (first part): sign-in and sessions, the queue and its actions, and
what keeps it safe (cookie flags, CSRF, Origin, CSP, the sign-in limit). Flask's client for the
HTTP rules, a real Chromium against gunicorn for a moderator's walk through it."""

import re
import time

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
    assert page.status_code == 200 and "Signed in as <strong>admin</strong>" in text and "Hello" in text
    assert "<title>(0) Moderation</title>" in text


def test_the_cookie_is_secure_when_public_url_is_https(clean_database):
    app = create_app(settings_for(clean_database, PUBLIC_URL="https://comments.example"))
    response = app.test_client().post("/admin/sign-in", data={"secret": TOKEN}, headers=ORIGIN)
    assert "Secure" in response.headers["Set-Cookie"]
    app.extensions["comments_db"].close()


def test_every_page_is_locked_down(client):
    for response in (client.get("/admin"), sign_in(client), client.get("/admin")):
        headers = response.headers
        assert headers["X-Frame-Options"] == "DENY" and headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert "script-src" not in headers["Content-Security-Policy"]  # default-src 'none': no script at all


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
    text = client.get("/admin").get_data(as_text=True)
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
            ann = chrome.find_element(By.XPATH, "//section[1]//article[.//strong[text()='Ann']]")
            ann.find_element(By.XPATH, ".//button[text()='Approve']").click()
            _wait(lambda: chrome.title == "(1) Moderation")
            assert "approved" in chrome.find_element(By.CSS_SELECTOR, ".notice").text
            bob = chrome.find_element(By.XPATH, "//section[1]//article[.//strong[text()='Bob']]")
            bob.find_element(By.TAG_NAME, "summary").click()  # Delete asks to confirm, inline
            bob.find_element(By.XPATH, ".//button[text()='Delete for good']").click()
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
