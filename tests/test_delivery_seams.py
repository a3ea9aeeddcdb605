"""Where moderation, erasure and the outbox meet the worker (items 12 to 17 of the seams issue):
events for every visibility change, no erased words in a late event, order across workers and
operators' retries, reply e-mails checked when sent, every failure settled, quick first retries
and a bound on a whole delivery, unsubscribing only by POST, and media-gc run by the worker.
Against real PostgreSQL, real worker processes, real HTTP receivers and a real SMTP server."""

import socket
import threading
import time

import pytest

from app import create_app
from delivery import webhooks, worker
from store import outbox
from tests.conftest import TEST_ENVIRONMENT, query, s3_client, settings_for, stored_keys, wait_until
from tests.receivers import Mailbox, WorkerProcess
from tests.test_worker import SECRET, worker_env

ADMIN = {"Authorization": f"Bearer {TEST_ENVIRONMENT['ADMIN_TOKEN']}"}
AS_BOB = {"environ_base": {"REMOTE_ADDR": "198.51.100.2"}}


def post(client, **fields) -> dict:
    response = client.post("/comments", json={"name": "Ann", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- 12. Every visibility change is an event, and late events carry no hidden words ----------------


def test_12_rejecting_a_published_comment_sends_comment_hidden_without_words(client, clean_database, receiver):
    created = post(client, comment="soon hidden words")
    assert (
        client.patch(f"/admin/comments/{created['id']}", json={"status": "rejected"}, headers=ADMIN).status_code == 200
    )
    with WorkerProcess(clean_database, **worker_env(receiver)):
        arrived = receiver.wait_for(3)
    kinds = [r["json"]["type"] for r in arrived]
    assert kinds == ["comment.created", "comment.published", "comment.hidden"]
    hidden = arrived[-1]["json"]["comment"]
    assert hidden["id"] == created["id"] and hidden["status"] == "rejected" and hidden["comment"] is None
    # The earlier events, delivered late (after the decision), no longer carry the words either.
    assert all(b"soon hidden words" not in r["body"] for r in arrived)


def test_12_an_edit_back_into_the_queue_hides_the_comment(client, clean_database):
    created = post(client, comment="fine")
    links = "see https://a.example https://b.example https://c.example https://d.example"
    edited = client.patch(
        f"/comments/{created['id']}",
        json={"comment": links},
        headers={"Authorization": f"Bearer {created['edit_token']}"},
    )
    assert edited.status_code == 200 and edited.get_json()["status"] == "pending"
    events = query(clean_database, "SELECT type, comment ->> 'comment' FROM outbox ORDER BY id")
    assert events == [("comment.created", None), ("comment.published", None), ("comment.hidden", None)]


def test_12_an_operator_retry_resends_in_order_and_carries_no_erased_words(client, clean_database, receiver):
    receiver.status = 410  # every delivery fails for good at once

    def failed(count: int) -> bool:
        return len(query(clean_database, "SELECT 1 FROM deliveries WHERE state = 'failed'")) == count

    created = post(client, comment="erase me later")
    with WorkerProcess(clean_database, **worker_env(receiver)):
        wait_until(lambda: failed(2))
        assert client.delete(f"/admin/comments/{created['id']}", headers=ADMIN).status_code == 204
        wait_until(lambda: failed(3))
        receiver.status = 204
        oldest = client.get("/admin/events?state=failed", headers=ADMIN).get_json()["events"][-1]
        assert oldest["type"] == "comment.created"
        assert client.post(f"/admin/events/{oldest['id']}/retry", headers=ADMIN).status_code == 204
        arrived = receiver.wait_for(3)  # the retried event, then every later one of the comment
    assert [r["json"]["type"] for r in arrived] == ["comment.created", "comment.published", "comment.deleted"]
    assert all(b"erase me later" not in r["body"] for r in receiver.received[2:])


def test_12_a_later_event_waits_for_an_earlier_one_still_being_fanned_out(client, clean_database):
    """Two workers fan out two batches at once: the delivery of the comment's second event may
    exist before that of its first. It must not be claimed first."""
    created = post(client, comment="ordered")
    query(clean_database, "UPDATE outbox SET fanned_out = true WHERE type = 'comment.published'")
    (later,) = query(clean_database, "SELECT id FROM outbox WHERE type = 'comment.published'")
    query(
        clean_database,
        "INSERT INTO deliveries (event, comment_id, destination) VALUES (%s, %s, 'http://127.0.0.1:9/hook')",
        (later[0], created["id"]),
    )
    claim = {"lease": 30, "limit": 10, "worker": "00000000-0000-0000-0000-000000000001"}
    assert query(clean_database, outbox.CLAIM, claim) == []  # comment.created is not fanned out yet
    query(clean_database, "UPDATE outbox SET fanned_out = true")
    assert len(query(clean_database, outbox.CLAIM, claim)) == 1


# --- 13. Reply e-mails only for what is public when sent -------------------------------------------------


def test_13_a_reply_rejected_before_sending_is_never_mailed(clean_database, mailbox):
    client = create_app(settings_for(clean_database)).test_client()
    parent = post(client, comment="Question?", email="ann@example.com", notify_replies=True)
    reply = client.post("/comments", json={"name": "Bob", "comment": "spam", "parent_id": parent["id"]}, **AS_BOB)
    # Published when its events were written, rejected before any worker got to them.
    rejected = client.patch(f"/admin/comments/{reply.get_json()['id']}", json={"status": "rejected"}, headers=ADMIN)
    assert rejected.status_code == 200
    email_settled = "SELECT state, last_error FROM deliveries WHERE destination = 'email' AND state <> 'pending'"
    with WorkerProcess(clean_database, SMTP_URL=mailbox.url):
        ((state, _),) = wait_until(lambda: query(clean_database, email_settled))
    assert state == "delivered" and mailbox.messages == []


def test_13_a_reply_hidden_and_published_again_is_mailed_once_with_its_words(clean_database, mailbox):
    client = create_app(settings_for(clean_database)).test_client()
    parent = post(client, comment="Question?", email="ann@example.com", notify_replies=True)
    reply = client.post("/comments", json={"name": "Bob", "comment": "Answer", "parent_id": parent["id"]}, **AS_BOB)
    path = f"/admin/comments/{reply.get_json()['id']}"
    assert client.patch(path, json={"status": "rejected"}, headers=ADMIN).status_code == 200  # its event loses words
    assert client.patch(path, json={"status": "published"}, headers=ADMIN).status_code == 200  # a new event
    settled = "SELECT count(*) FROM deliveries WHERE destination = 'email' AND state = 'delivered'"
    with WorkerProcess(clean_database, SMTP_URL=mailbox.url):
        wait_until(lambda: query(clean_database, settled) == [(2,)])
    (message,) = mailbox.messages
    assert "Answer" in message.get_body(("plain",)).get_content()


# --- 14. No delivery retries forever; headers are single lines; shutdown never steals a lease -----------


def test_14_a_name_with_a_line_separator_is_mailed_on_one_line(clean_database, mailbox):
    client = create_app(settings_for(clean_database)).test_client()
    parent = post(client, comment="Q", email="ann@example.com", notify_replies=True)
    client.post(
        "/comments", json={"name": "Bob\u2028Bcc: x@evil.example", "comment": "A", "parent_id": parent["id"]}, **AS_BOB
    )
    with WorkerProcess(clean_database, SMTP_URL=mailbox.url):
        (message,) = mailbox.wait_for(1)
    assert message["Subject"] == "Bob Bcc: x@evil.example replied to your comment"
    assert message["Bcc"] is None


def test_14_an_attempt_that_raises_is_settled_and_fails_after_the_maximum(clean_database):
    """An event the worker cannot handle (here: an e-mail event whose comment id is not a
    number, so the recipient's query raises) is a failed attempt like any other: retried, then
    failed for good, never looped on."""
    query(
        clean_database,
        "INSERT INTO outbox (type, comment_id, comment, fanned_out) VALUES ('comment.published', 1, %s, true)",
        ('{"id": "x", "comment": "words"}',),
    )
    query(clean_database, "INSERT INTO deliveries (event, comment_id, destination) SELECT id, 1, 'email' FROM outbox")
    with WorkerProcess(clean_database, WEBHOOK_MAX_ATTEMPTS="2", WEBHOOK_BACKOFF_SECONDS="1"):
        ((state, attempts, error),) = wait_until(
            lambda: query(clean_database, "SELECT state, attempts, last_error FROM deliveries WHERE state = 'failed'"),
            timeout=20,
        )
    assert (state, attempts) == ("failed", 2) and "invalid input syntax" in error


def test_14_shutting_down_releases_only_the_workers_own_leases(client, clean_database):
    post(client, comment="leased")
    query(clean_database, "UPDATE outbox SET fanned_out = true")
    query(
        clean_database,
        "INSERT INTO deliveries (event, comment_id, destination) SELECT id, comment_id, 'http://x' FROM outbox",
    )
    mine, theirs = "00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b"
    claimed = query(clean_database, outbox.CLAIM, {"lease": 60, "limit": 10, "worker": theirs})
    ids = [row[0] for row in claimed]
    query(clean_database, outbox.RELEASE, (ids, mine))  # a worker whose lease on them had expired
    assert query(
        clean_database, "SELECT count(*) FROM deliveries WHERE leased_by = %s AND leased_until > now()", (theirs,)
    ) == [(len(ids),)]


# --- 15. The first retry comes quickly; a whole delivery is bounded ----------------------------------


def test_15_retries_start_within_seconds_and_span_about_a_day():
    assert all(4 <= webhooks.retry_delay(1, 5) <= 6 for _ in range(50))  # the first: 5 s, give or take 20%
    nominal = [5 * webhooks.RETRY_STEPS[min(attempt, len(webhooks.RETRY_STEPS)) - 1] for attempt in range(1, 10)]
    assert nominal[:5] == [5, 30, 300, 1800, 7200]
    assert 18 * 3600 <= sum(nominal) <= 30 * 3600  # ten attempts (nine waits) span about a day


class DrippingReceiver:
    """Accepts a connection and answers one byte every `every` seconds, for ever."""

    def __init__(self, every: float = 0.3):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/hook"
        self.stop = threading.Event()
        threading.Thread(target=self._serve, args=(every,), daemon=True).start()

    def _serve(self, every: float) -> None:
        connection, _ = self.server.accept()
        with connection:
            for byte in b"HTTP/1.1 200 OK\r\n" * 100:
                if self.stop.wait(every):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    def close(self) -> None:
        self.stop.set()
        self.server.close()


def test_15_a_receiver_that_drips_its_answer_is_cut_off_at_the_timeout():
    dripping = DrippingReceiver()
    try:
        event = webhooks.Event("e1", "comment.created", "2026-01-01T00:00:00.000000Z", {"id": 1})
        started = time.monotonic()
        outcome = webhooks.post(dripping.url, event, SECRET, timeout=1)
        took = time.monotonic() - started
    finally:
        dripping.close()
    assert outcome.result == "retry" and "DeadlinePassed" in outcome.detail
    assert took < 1.5, took


# --- 16. Unsubscribe by GET changes nothing ----------------------------------------------------------------


def test_16_get_shows_a_confirmation_and_only_post_unsubscribes(client, clean_database):
    from delivery import mail

    parent = post(client, comment="Q", email="ann@example.com", notify_replies=True)
    token = mail.unsubscribe_token(TEST_ENVIRONMENT["SECRET_KEY"], parent["id"])
    page = client.get(f"/unsubscribe?token={token}")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert b'method="post"' in page.data and b"Unsubscribe</button>" in page.data
    assert query(clean_database, "SELECT notify_replies FROM comments") == [(True,)]
    done = client.post(f"/unsubscribe?token={token}", headers={"Accept": "text/html"})
    assert done.status_code == 200 and b"no more e-mails" in done.data
    assert query(clean_database, "SELECT notify_replies FROM comments") == [(False,)]
    one_click = client.post(f"/unsubscribe?token={token}", data="List-Unsubscribe=One-Click")
    assert one_click.get_json() == {"status": "unsubscribed", "comment_id": parent["id"]}


def test_16_a_valid_token_for_an_unknown_comment_is_404(client):
    from delivery import mail

    token = mail.unsubscribe_token(TEST_ENVIRONMENT["SECRET_KEY"], 424242)
    assert client.get(f"/unsubscribe?token={token}").status_code == 404
    assert client.post(f"/unsubscribe?token={token}").status_code == 404
    assert client.get("/unsubscribe?token=424242.forged").status_code == 400


# --- 17. media-gc runs by itself, in the worker -------------------------------------------------------------


def test_17_the_worker_removes_orphaned_images_by_itself(clean_database, media_environment):
    bucket = media_environment["MEDIA_BUCKET"]
    orphan = "0" * 64 + ".png"
    s3_client(media_environment).put_object(Bucket=bucket, Key=orphan, Body=b"left by a crash")
    settings = settings_for(clean_database, **media_environment)
    running = worker.Worker(settings, media_gc_every=0.2, media_gc_grace=0)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: orphan not in stored_keys(media_environment), timeout=15, every=0.2)
    finally:
        running.stop()
        thread.join(15)
    assert not thread.is_alive()


# --- Reply e-mails over TLS: STARTTLS and smtps://, with a login ----------------------------------


@pytest.mark.parametrize("tls", ["starttls", "smtps"])
def test_reply_emails_go_over_tls_with_a_login(clean_database, tls):
    mailbox = Mailbox(tls=tls)
    try:
        client = create_app(settings_for(clean_database)).test_client()
        parent = post(client, comment="Q", email="ann@example.com", notify_replies=True)
        client.post("/comments", json={"name": "Bob", "comment": "A", "parent_id": parent["id"]}, **AS_BOB)
        with WorkerProcess(clean_database, SMTP_URL=mailbox.url, SSL_CERT_FILE=mailbox.certificate):
            (message,) = mailbox.wait_for(1)
        assert message["To"] == "ann@example.com"
        assert mailbox.sessions == [{"tls": True, "logged_in": True}]
    finally:
        mailbox.close()


def test_a_server_whose_certificate_is_not_trusted_gets_nothing(clean_database):
    mailbox = Mailbox(tls="smtps")
    try:
        client = create_app(settings_for(clean_database)).test_client()
        parent = post(client, comment="Q", email="ann@example.com", notify_replies=True)
        client.post("/comments", json={"name": "Bob", "comment": "A", "parent_id": parent["id"]}, **AS_BOB)
        retried = "SELECT last_error FROM deliveries WHERE destination = 'email' AND last_error IS NOT NULL"
        with WorkerProcess(clean_database, SMTP_URL=mailbox.url):  # no SSL_CERT_FILE: not trusted
            ((error,),) = wait_until(lambda: query(clean_database, retried))
        assert "CERTIFICATE_VERIFY_FAILED" in error and mailbox.messages == []
    finally:
        mailbox.close()
