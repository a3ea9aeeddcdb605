"""The worker: events from the outbox reach real HTTP receivers and a real SMTP server, through
real worker processes, and nothing acknowledged is lost: not to a receiver that is down, a worker
that is killed, two workers at once, or a database restart."""

import hashlib
import hmac
import time

import psycopg2
import pytest

from app import create_app
from comment import NewComment
from delivery import webhooks
from store import outbox
from tests.conftest import TEST_ENVIRONMENT, settings_for
from tests.receivers import Receiver, WorkerProcess
from tests.test_ownership import bearer

SECRET = "webhook-secret-" + "s" * 32
AS_ADMIN = bearer(TEST_ENVIRONMENT["ADMIN_TOKEN"])


def worker_env(*receivers: Receiver, **extra: str) -> dict:
    return {
        "WEBHOOK_URLS": ",".join(r.url for r in receivers),
        "WEBHOOK_SECRET": SECRET,
        "WEBHOOK_TIMEOUT": "2",
        "WEBHOOK_BACKOFF_SECONDS": "1",
        **extra,
    }


def post(client, **fields):
    response = client.post("/comments", json={"name": "Ann", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def wait_for_failed(client, count: int, timeout: float = 10) -> list[dict]:
    """The deliveries that failed for good, as operators see them, once there are `count`."""
    deadline, failed = time.monotonic() + timeout, []
    while len(failed) < count and time.monotonic() < deadline:
        failed = client.get("/admin/events?state=failed", headers=AS_ADMIN).get_json()["events"]
        time.sleep(0.1)
    return failed


def events_table(database_url: str) -> list[tuple]:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT type, comment_id FROM outbox ORDER BY id")
        rows = cursor.fetchall()
    conn.close()
    return rows


def test_events_arrive_signed_with_the_public_fields_only(client, clean_database, receiver):
    created = post(client, comment="Hello", email="ann@example.com", notify_replies=True)
    client.patch(f"/comments/{created['id']}", json={"comment": "Hello!"}, headers=bearer(created["edit_token"]))
    with WorkerProcess(clean_database, **worker_env(receiver)):
        arrived = receiver.wait_for(3)
    assert [r["json"]["type"] for r in arrived] == ["comment.created", "comment.published", "comment.edited"]
    first = arrived[0]
    headers, body = first["headers"], first["body"]
    assert headers["X-Comments-Event-Id"] == first["json"]["id"]
    expected = hmac.new(SECRET.encode(), headers["X-Comments-Timestamp"].encode() + b"." + body, hashlib.sha256)
    assert headers["X-Comments-Signature"] == f"sha256={expected.hexdigest()}"
    assert abs(int(headers["X-Comments-Timestamp"]) - time.time()) < 60
    assert set(first["json"]["comment"]) == {
        "id",
        "thread",
        "parent_id",
        "name",
        "comment",
        "html",
        "status",
        "created_at",
        "edited_at",
        "images",
    }
    assert b"ann@example.com" not in body and b"edit_token" not in body
    assert arrived[2]["json"]["comment"]["comment"] == "Hello!"


def test_a_change_that_rolls_back_leaves_no_event(app, clean_database):
    database = app.extensions["comments_db"]
    with pytest.raises(psycopg2.errors.CheckViolation):  # the row breaks a constraint: all of it rolls back
        database.add(NewComment("t" * 300, None, "a", "b"), status="published", token_hash=b"x", client="c", limit=None)
    assert events_table(clean_database) == []
    client = app.test_client()
    client.post("/comments", json={"name": "a", "comment": "b", "parent_id": 999})  # refused: no event either
    assert events_table(clean_database) == []


def test_a_receiver_that_is_down_gets_everything_after_it_recovers_in_order(client, clean_database, receiver):
    receiver.status = 503
    first = post(client, comment="one", thread="t")
    with WorkerProcess(clean_database, **worker_env(receiver)):
        for n in range(2, 5):
            client.patch(f"/comments/{first['id']}", json={"comment": f"edit {n}"}, headers=bearer(first["edit_token"]))
        deadline = time.monotonic() + 10
        while len(receiver.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(receiver.received) >= 2 and not receiver.accepted()  # tried, refused, retried within seconds
        receiver.status = 204
        arrived = receiver.wait_for(5, timeout=30)
    kinds = [r["json"]["type"] for r in arrived]
    assert kinds == ["comment.created", "comment.published", "comment.edited", "comment.edited", "comment.edited"]
    assert [r["json"]["comment"]["comment"] for r in arrived[2:]] == ["edit 2", "edit 3", "edit 4"]


def test_a_worker_killed_while_delivering_loses_nothing(client, clean_database, receiver):
    receiver.delay = 1.5  # every delivery is in flight for a while
    for n in range(3):
        post(client, comment=f"c{n}", thread=f"t{n}")
    killed = WorkerProcess(clean_database, **worker_env(receiver)).start()
    deadline = time.monotonic() + 10
    while not receiver.received and time.monotonic() < deadline:
        time.sleep(0.02)
    killed.kill()  # mid-delivery: its leases stay behind
    receiver.delay = 0
    with WorkerProcess(clean_database, **worker_env(receiver)):
        deadline = time.monotonic() + 40  # the dead worker's leases expire first
        while len({r["json"]["id"] for r in receiver.accepted()}) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
    arrived = receiver.accepted()
    ids = [r["json"]["id"] for r in arrived]
    assert len(set(ids)) == 6, "every event arrived, at least once"
    assert [r["headers"]["X-Comments-Event-Id"] for r in arrived] == ids  # a repeat keeps its event id


def test_two_workers_deliver_each_event_once(client, clean_database, receiver):
    for n in range(20):
        post(client, comment=f"c{n}", thread=f"t{n % 5}")
    with WorkerProcess(clean_database, **worker_env(receiver)), WorkerProcess(clean_database, **worker_env(receiver)):
        receiver.wait_for(40)
    # Both workers have stopped, each after finishing what it had in flight: any second
    # delivery of an event would have been made by now.
    ids = [r["json"]["id"] for r in receiver.accepted()]
    assert len(ids) == 40 and len(set(ids)) == 40


def test_a_final_refusal_is_shown_to_operators_and_can_be_retried(client, clean_database, receiver):
    receiver.status = 410
    post(client, comment="gone")
    with WorkerProcess(clean_database, **worker_env(receiver)):
        failed = wait_for_failed(client, 2)
        assert len(failed) == 2 and len(receiver.received) == 2  # one try each: 4xx is final
        assert failed[0]["last_error"] == "HTTP 410" and failed[0]["destination"] == webhooks.safe_url(receiver.url)
        receiver.status = 200
        for delivery in failed:
            assert client.post(f"/admin/events/{delivery['id']}/retry", headers=AS_ADMIN).status_code == 204
        receiver.wait_for(2)
    assert client.get("/admin/events?state=failed", headers=AS_ADMIN).get_json()["events"] == []
    assert client.post("/admin/events/999/retry", headers=AS_ADMIN).status_code == 404
    assert client.get("/admin/events?state=failed").status_code == 401


def test_sigterm_lets_a_slow_delivery_finish_and_exits_cleanly(client, clean_database, receiver):
    receiver.delay = 1.0
    post(client, comment="slow")
    worker = WorkerProcess(clean_database, **worker_env(receiver), GRACEFUL_TIMEOUT="10").start()
    deadline = time.monotonic() + 10
    while not receiver.received and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    assert worker.stop() == 0
    assert time.monotonic() - started < 10
    assert len(receiver.accepted()) >= 1


def test_a_reply_emails_the_author_who_asked_and_unsubscribing_stops_it(clean_database, mailbox):
    app = create_app(
        settings_for(clean_database, PUBLIC_URL="https://comments.example", SITE_URL="https://blog.example")
    )
    client = app.test_client()
    parent = post(client, comment="Question?", thread="posts/1", email="ann@example.com", notify_replies=True)
    as_bob = {"environ_base": {"REMOTE_ADDR": "198.51.100.2"}}
    client.post(
        "/comments",
        json={"name": "Bob", "comment": "<b>Answer</b>", "thread": "posts/1", "parent_id": parent["id"]},
        **as_bob,
    )
    # Replying to oneself (same address) sends nothing.
    post(client, comment="Me again", thread="posts/1", parent_id=parent["id"])
    env = {
        "SMTP_URL": mailbox.url,
        "MAIL_FROM": "comments@blog.example",
        "PUBLIC_URL": "https://comments.example",
        "SITE_URL": "https://blog.example",
    }
    with WorkerProcess(clean_database, **env):
        (message,) = mailbox.wait_for(1)
        time.sleep(1.0)
    assert len(mailbox.messages) == 1
    assert message["To"] == "ann@example.com" and message["From"] == "comments@blog.example"
    text = message.get_body(("plain",)).get_content()
    assert "Bob replied" in text and "<b>Answer</b>" in text and "https://blog.example/posts/1" in text
    assert "&lt;b&gt;Answer&lt;/b&gt;" in message.get_body(("html",)).get_content()
    link = message["List-Unsubscribe"].strip().strip("<>")
    assert link in text and link.startswith("https://comments.example/unsubscribe?token=")

    path = link.removeprefix("https://comments.example")
    assert client.post(path).get_json()["status"] == "unsubscribed"
    assert client.get(path.replace("token=", "token=9")).status_code == 400
    client.post(
        "/comments",
        json={"name": "Bob", "comment": "Another answer", "thread": "posts/1", "parent_id": parent["id"]},
        **as_bob,
    )
    with WorkerProcess(clean_database, **env):
        time.sleep(2.0)
    assert len(mailbox.messages) == 1


def test_without_smtp_the_email_is_written_to_the_log(client, clean_database):
    parent = post(client, comment="Q", email="ann@example.com", notify_replies=True)
    client.post(
        "/comments",
        json={"name": "Bob", "comment": "A", "parent_id": parent["id"]},
        environ_base={"REMOTE_ADDR": "198.51.100.3"},
    )
    worker = WorkerProcess(clean_database).start()
    deadline = time.monotonic() + 10
    while not [e for e in worker.log_entries() if e.get("message") == "email"] and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.stop()
    (email,) = [e for e in worker.log_entries() if e.get("message") == "email"]
    assert email["to"] == "ann@example.com" and "Bob replied" in email["subject"]


def test_the_worker_rides_out_a_database_restart(own_postgres, receiver):
    app = create_app(settings_for(own_postgres.url))
    client = app.test_client()
    with WorkerProcess(own_postgres.url, **worker_env(receiver)) as worker:
        post(client, comment="before")
        receiver.wait_for(2)
        own_postgres.stop("immediate")
        time.sleep(2.0)
        own_postgres.start()
        app.extensions["comments_db"].close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                post(client, comment="after")
                break
            except AssertionError:
                time.sleep(0.2)
        receiver.wait_for(4, timeout=30)
        assert worker.process.poll() is None, "the worker must not need a restart"
    app.extensions["comments_db"].close()


def test_delivered_events_are_removed_after_the_retention_period(client, clean_database, receiver):
    post(client, comment="old news")
    with WorkerProcess(clean_database, **worker_env(receiver)):
        receiver.wait_for(2)
    with psycopg2.connect(clean_database) as conn, conn.cursor() as cursor:
        cursor.execute("UPDATE outbox SET created_at = now() - interval '8 days'")
    conn.close()
    receiver.status = 500
    post(client, comment="not delivered yet")
    with WorkerProcess(clean_database, **worker_env(receiver)):
        time.sleep(2.0)
    assert [kind for kind, _ in events_table(clean_database)] == ["comment.created", "comment.published"]


def test_a_redirect_is_not_followed_but_final(client, clean_database, receiver):
    receiver.status = 302  # with no Location: following it would be a bug anyway
    post(client, comment="moved?")
    with WorkerProcess(clean_database, **worker_env(receiver)):
        failed = wait_for_failed(client, 2)
    assert [d["last_error"] for d in failed] == ["HTTP 302", "HTTP 302"]
    assert len(receiver.received) == 2


def test_a_hanging_receiver_does_not_hold_up_another(client, clean_database, receiver):
    hanging = Receiver(delay=30)  # far past WEBHOOK_TIMEOUT=2
    try:
        for n in range(4):
            post(client, comment=f"c{n}", thread=f"t{n}")
        with WorkerProcess(clean_database, **worker_env(hanging, receiver)):
            started = time.monotonic()
            receiver.wait_for(8, timeout=10)
            took = time.monotonic() - started
    finally:
        hanging.close()
    assert took < 5, f"the healthy receiver waited {took:.1f}s behind the hanging one"


def manual_analyses_of_deliveries(database_url: str) -> int:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'deliveries'")
        (count,) = cursor.fetchone()
    conn.close()
    return count


def wait_for_analyses(database_url: str, count: int, timeout: float = 20) -> int:
    """PostgreSQL publishes its table statistics with a delay of up to a second or so."""
    deadline = time.monotonic() + timeout
    while (seen := manual_analyses_of_deliveries(database_url)) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    return seen


def test_after_a_backlog_the_worker_lets_the_planner_see_the_new_deliveries(client, clean_database, receiver):
    """outbox.ANALYZE: a backlog fanned out at once would leave CLAIM planned for an empty table."""
    before = manual_analyses_of_deliveries(clean_database)
    with WorkerProcess(clean_database, **worker_env(receiver)):
        post(client, comment="a few events are no backlog")
        receiver.wait_for(2)
        time.sleep(2)  # time enough for an analysis, if one were made, to show
        assert manual_analyses_of_deliveries(clean_database) == before
    backlog = outbox.FAN_OUT_BATCH + 500
    with psycopg2.connect(clean_database) as conn, conn.cursor() as cursor:
        cursor.execute(
            "INSERT INTO outbox (type, comment_id, comment) SELECT 'comment.created', n, jsonb_build_object('id', n)"
            " FROM generate_series(1, %s) AS n",
            (backlog,),
        )
    conn.close()
    with WorkerProcess(clean_database, **worker_env(receiver)):
        receiver.wait_for(2 + backlog, timeout=60)
        assert wait_for_analyses(clean_database, before + 1) == before + 1
