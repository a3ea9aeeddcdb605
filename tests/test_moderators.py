"""Moderator accounts: `pipenv run moderators add|list|remove`, their secrets as bearer tokens of
the admin API, ADMIN_TOKEN as the account `admin`, and the audit log naming who acted."""

import hashlib
import os
import subprocess
import sys

import pytest

from app import create_app
from tests.conftest import TEST_ENVIRONMENT, query, settings_for
from tests.service import ROOT

ADMIN = {"Authorization": f"Bearer {TEST_ENVIRONMENT['ADMIN_TOKEN']}"}


def moderators(database_url: str, *arguments: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **TEST_ENVIRONMENT, "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "api.moderators", *arguments]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def add(database_url: str, name: str) -> str:
    result = moderators(database_url, "add", name)
    assert result.returncode == 0, result.stderr
    shown_name, secret = result.stdout.strip().split(": ")
    assert shown_name == name and "cannot be shown again" in result.stderr
    return secret


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def test_a_moderators_secret_opens_the_admin_api_until_the_account_is_removed(client, clean_database):
    secret = add(clean_database, "alice")
    assert client.get("/admin/comments", headers=bearer(secret)).status_code == 200
    assert client.get("/admin/people?email=a@example.tld", headers=bearer(secret)).status_code == 200
    listed = moderators(clean_database, "list")
    assert listed.returncode == 0 and listed.stdout.startswith("alice\tadded ")
    assert moderators(clean_database, "remove", "alice").returncode == 0
    response = client.get("/admin/comments", headers=bearer(secret))
    assert response.status_code == 401 and response.get_json()["code"] == "invalid_token"
    assert moderators(clean_database, "list").stdout == ""


def test_only_a_hash_of_the_secret_is_stored(clean_database):
    secret = add(clean_database, "alice")
    ((stored,),) = query(clean_database, "SELECT secret_hash FROM moderators WHERE name = 'alice'")
    assert bytes(stored) == hashlib.sha256(secret.encode()).digest()
    dump = str(query(clean_database, "SELECT * FROM moderators"))
    assert secret not in dump and secret.removeprefix("mod_") not in dump


def test_the_audit_log_names_who_acted(client, clean_database):
    secret = add(clean_database, "alice")
    one = client.post("/comments", json={"name": "Ann", "comment": "one"}).get_json()
    two = client.post("/comments", json={"name": "Bob", "comment": "two"}).get_json()
    client.patch(f"/admin/comments/{one['id']}", json={"status": "rejected"}, headers=bearer(secret))
    client.delete(f"/admin/comments/{two['id']}", headers=ADMIN)
    logged = query(clean_database, "SELECT comment_id, action, moderator FROM moderation_log ORDER BY id")
    assert logged == [(one["id"], "set_status", "alice"), (two["id"], "erase", "admin")]


def test_without_admin_token_the_accounts_still_work(clean_database):
    secret = add(clean_database, "alice")
    app = create_app(settings_for(clean_database, ADMIN_TOKEN=""))
    client = app.test_client()
    assert client.get("/admin/comments", headers=bearer(secret)).status_code == 200
    assert client.get("/admin/comments", headers=ADMIN).status_code == 401
    app.extensions["comments_db"].close()


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer ", "Bearer mod_", "Bearer mod_" + "x" * 43, "Bearer wrong", "Basic YWxpY2U6eA==", "bearer mod_"],
)
def test_every_wrong_secret_is_refused_the_same_way(client, clean_database, authorization):
    add(clean_database, "alice")
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/admin/comments", headers=headers)
    assert response.status_code == 401 and response.get_json() == {
        "error": "A valid bearer token is required.",
        "code": "invalid_token",
    }


def test_names_are_checked_and_never_taken_twice(clean_database):
    add(clean_database, "alice")
    again = moderators(clean_database, "add", "alice")
    assert again.returncode == 1 and "exists already" in again.stderr and again.stdout == ""
    for bad in ("Alice", "admin", "a b", "-x", "x" * 41, ""):
        assert moderators(clean_database, "add", bad).returncode == 2
    assert moderators(clean_database, "remove", "bob").returncode == 1
