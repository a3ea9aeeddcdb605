"""Notices to moderators (delivery/digest.py): held comments mailed to MODERATOR_EMAILS in one
digest per MODERATOR_DIGEST_MINUTES, by real worker processes, to a real SMTP server."""

import time

import pytest

import config
from app import create_app
from tests.conftest import TEST_ENVIRONMENT, query, settings_for, wait_until
from tests.receivers import Mailbox, WorkerProcess

ADMIN = {"Authorization": f"Bearer {TEST_ENVIRONMENT['ADMIN_TOKEN']}"}
HELD = {"MODERATION": "pre", "PUBLIC_URL": "https://comments.example"}


@pytest.fixture
def held_client(clean_database):
    app = create_app(settings_for(clean_database, **HELD))
    yield app.test_client()
    app.extensions["comments_db"].close()


def worker_env(mailbox: Mailbox, **extra: str) -> dict:
    return {**HELD, "SMTP_URL": mailbox.url, "MODERATOR_EMAILS": "mod1@example.tld, mod2@example.tld",
            "MODERATOR_DIGEST_MINUTES": "10", **extra}  # fmt: skip


def hold(client, count: int, start: int = 0) -> list[int]:
    held = []
    for n in range(start, start + count):
        fields = {"thread": "/post/", "name": f"Sender {n}", "comment": f"spam number {n}"}
        held.append(client.post("/comments", json=fields).get_json()["id"])
    return held


def test_a_wave_of_held_comments_is_one_email_and_the_next_waits_for_the_interval(held_client, clean_database,
                                                                                 mailbox):  # fmt: skip
    ids = hold(held_client, 50)
    with WorkerProcess(clean_database, **worker_env(mailbox)):
        (message,) = mailbox.wait_for(1)
        later = hold(held_client, 5, start=50)
        time.sleep(2.0)  # the worker is woken by each post, and still sends nothing inside the interval
        assert len(mailbox.messages) == 1
        query(clean_database, "UPDATE deliveries SET finished_at = now() - interval '11 minutes'"
                              " WHERE destination = 'moderators' AND state = 'delivered'")  # fmt: skip
        second = mailbox.wait_for(2)[1]
    assert message["To"] == "mod1@example.tld, mod2@example.tld"
    assert message["Subject"] == "50 comments waiting for moderation"
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert all(f"https://comments.example/admin#comment-{comment_id}" in text for comment_id in ids)
    assert "Sender 7 on /post/:\nspam number 7" in text
    assert second["Subject"] == "5 comments waiting for moderation"
    assert all(f"#comment-{comment_id}" in second.get_body(("plain",)).get_content() for comment_id in later)


def test_what_was_decided_before_the_digest_is_left_out(held_client, clean_database, mailbox):
    approved, waiting = hold(held_client, 2)
    held_client.patch(f"/admin/comments/{approved}", json={"status": "published"}, headers=ADMIN)
    with WorkerProcess(clean_database, **worker_env(mailbox)):
        (message,) = mailbox.wait_for(1)
    text = message.get_body(("plain",)).get_content()
    assert f"#comment-{waiting}" in text and f"#comment-{approved}" not in text
    assert message["Subject"] == "1 comment waiting for moderation"


def test_nothing_left_to_decide_sends_nothing(held_client, clean_database, mailbox):
    (erased,) = hold(held_client, 1)
    held_client.delete(f"/admin/comments/{erased}", headers=ADMIN)
    with WorkerProcess(clean_database, **worker_env(mailbox)):
        wait_until(lambda: query(clean_database, "SELECT count(*) FROM deliveries WHERE destination = 'moderators'"
                                                 " AND state = 'delivered'")[0][0] == 1)  # fmt: skip
    assert mailbox.messages == []


def test_published_comments_tell_no_moderator(client, clean_database, mailbox):
    client.post("/comments", json={"name": "Ann", "comment": "Fine words"})
    with WorkerProcess(clean_database, **worker_env(mailbox, MODERATION="off")):
        wait_until(lambda: query(clean_database, "SELECT bool_and(fanned_out) FROM outbox")[0][0])
        time.sleep(1.0)
    assert mailbox.messages == []
    assert query(clean_database, "SELECT count(*) FROM deliveries WHERE destination = 'moderators'") == [(0,)]


def test_two_workers_send_one_digest(held_client, clean_database, mailbox):
    hold(held_client, 10)
    with WorkerProcess(clean_database, **worker_env(mailbox)), WorkerProcess(clean_database, **worker_env(mailbox)):
        mailbox.wait_for(1)
        time.sleep(2.0)
    assert len(mailbox.messages) == 1


def test_a_digest_the_mail_server_refused_is_sent_once_it_is_back(held_client, clean_database, mailbox):
    (comment_id,) = hold(held_client, 1)
    down = worker_env(mailbox, SMTP_URL="smtp://127.0.0.1:9", WEBHOOK_BACKOFF_SECONDS="1")
    with WorkerProcess(clean_database, **down):
        wait_until(lambda: query(clean_database, "SELECT last_error FROM deliveries WHERE destination = 'moderators'"
                                                 " AND last_error IS NOT NULL"))  # fmt: skip
    with WorkerProcess(clean_database, **worker_env(mailbox, WEBHOOK_BACKOFF_SECONDS="1")):
        (message,) = mailbox.wait_for(1)
    assert f"#comment-{comment_id}" in message.get_body(("plain",)).get_content()


@pytest.mark.parametrize("emails", ["not-an-address", "a@example.tld, b", "two words@example.tld"])
def test_moderator_emails_must_be_addresses(emails):
    with pytest.raises(config.ConfigError, match="MODERATOR_EMAILS"):
        config.from_environment({"MODERATOR_EMAILS": emails})


def test_a_held_reply_mails_its_parents_author_only_once_approved(clean_database, mailbox):
    """Reply e-mails follow publication: a reply waiting for moderation tells the moderators,
    not the author it answers; approved, it mails that author once."""
    app = create_app(settings_for(clean_database, **HELD))
    client = app.test_client()
    parent = client.post("/comments", json={"name": "Ann", "comment": "Question?", "email": "ann@example.tld",
                                            "notify_replies": True}).get_json()  # fmt: skip
    client.patch(f"/admin/comments/{parent['id']}", json={"status": "published"}, headers=ADMIN)
    reply = client.post("/comments", json={"name": "Bob", "comment": "The answer", "parent_id": parent["id"]},
                        environ_base={"REMOTE_ADDR": "198.51.100.2"}).get_json()  # fmt: skip
    with WorkerProcess(clean_database, **worker_env(mailbox)):
        (digest,) = mailbox.wait_for(1)
        time.sleep(1.5)
        assert [message["To"] for message in mailbox.messages] == ["mod1@example.tld, mod2@example.tld"]
        client.patch(f"/admin/comments/{reply['id']}", json={"status": "published"}, headers=ADMIN)
        replied = mailbox.wait_for(2)[1]
    assert replied["To"] == "ann@example.tld" and "The answer" in replied.get_body(("plain",)).get_content()
    assert "The answer" in digest.get_body(("plain",)).get_content()
    app.extensions["comments_db"].close()
