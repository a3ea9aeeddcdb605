"""`pipenv run worker`: the process that delivers the outbox's events (webhooks, reply e-mails).

The same code base and image as the web process, another process type. Several may run at once:
each delivery is leased to one of them at a time (FOR UPDATE SKIP LOCKED, then a lease in the
row), so in the normal case nothing is delivered twice; a worker that dies (SIGKILL) leaves its
leases to expire and another worker delivers again, with the same event id: at least once.

Any failure of an attempt, expected or not, is settled as a failed attempt: retried after
webhooks.retry_delay (seconds first, then hours), and failed for good after
WEBHOOK_MAX_ATTEMPTS. It also removes images that no comment uses, every MEDIA_GC_EVERY.

It wakes on LISTEN/NOTIFY when a change commits and also polls every POLL_SECONDS, so a missed
notification only delays delivery. A slow or hanging receiver holds one of DELIVERY_THREADS for
at most WEBHOOK_TIMEOUT, never the others. SIGTERM: it stops claiming, lets what is in flight
finish (within GRACEFUL_TIMEOUT), releases any lease it still holds, and exits 0. A database
restart is ridden out: it reconnects and carries on.
"""

import logging
import os
import select
import signal
import smtplib
import sys
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import suppress

import psycopg2

import config
from core import logs
from core.exceptions import DatabaseUnavailable, ServiceError, Unavailable
from db import CommentDatabase
from delivery import digest, mail, webhooks
from media import storage
from store import outbox
from store.object_store import ObjectStore

log = logging.getLogger("comments.worker")

POLL_SECONDS = 5.0
WAIT_FLOOR = 0.1
DELIVERY_THREADS = 8
PRUNE_EVERY = 60.0  # seconds between retention sweeps
MEDIA_GC_EVERY = 15 * 60.0  # seconds between looks for unused images (storage.collect_garbage)
MEDIA_GC_GRACE = 60 * 60.0  # an image younger than this may belong to a post being made now


class Worker:
    def __init__(
        self, settings: config.Config, media_gc_every: float = MEDIA_GC_EVERY, media_gc_grace: float = MEDIA_GC_GRACE
    ):
        self.settings = settings
        self.database = CommentDatabase(
            settings.require_database_url(),
            pool_size=DELIVERY_THREADS + 2,
            connect_timeout=settings.db_connect_timeout,
            statement_timeout_ms=settings.db_statement_timeout_ms,
            pool_timeout=settings.db_pool_timeout,
        )
        self.executor = ThreadPoolExecutor(DELIVERY_THREADS, thread_name_prefix="delivery")
        self.in_flight: dict[int, Future] = {}
        self.fanning_backlog = False  # the last fan-out was a full batch (outbox.ANALYZE)
        self.stopping = threading.Event()
        # Delivery threads write a byte here when they finish, so the loop claims more at once.
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_write, False)
        # Longer than any one attempt can take, so a live worker never loses its lease.
        self.lease_seconds = settings.webhook_timeout * 3 + 10
        self.worker_id = str(uuid.uuid4())  # whose leases are whose (outbox.RELEASE)
        self.object_store = ObjectStore(settings) if settings.media_bucket else None
        self.media_gc_every, self.media_gc_grace = media_gc_every, media_gc_grace

    def run(self) -> None:
        log.info(
            "worker started", extra={"webhooks": len(self.settings.webhook_urls), "email": bool(self.settings.smtp_url)}
        )
        listener, last_prune, last_media_gc = None, 0.0, float("-inf")
        while not self.stopping.is_set():
            try:
                listener = listener or self._listen()
                self._fan_out()
                self._claim()
                digest.send_if_due(self.database, self.settings, self.worker_id)
                if time.monotonic() - last_prune > PRUNE_EVERY:
                    self.database.query(outbox.PRUNE, rows=False)
                    last_prune = time.monotonic()
                if self.object_store and time.monotonic() - last_media_gc > self.media_gc_every:
                    last_media_gc = time.monotonic()
                    self._collect_media_garbage()
                self._wait(listener)
            except (DatabaseUnavailable, psycopg2.Error) as error:
                log.warning("database unavailable; retrying", extra={"reason": str(error.__cause__ or error).strip()})
                listener = _close(listener)
                self.stopping.wait(1.0)
        self._drain()
        _close(listener)
        log.info("worker stopped")

    def stop(self, *_) -> None:
        self.stopping.set()
        self._wake()

    def _wake(self) -> None:
        with suppress(BlockingIOError):  # a full pipe wakes the loop just as well
            os.write(self.wake_write, b"x")

    def _listen(self):
        conn = psycopg2.connect(
            self.settings.database_url,
            connect_timeout=self.settings.db_connect_timeout,
            application_name="comments-worker",
        )
        conn.autocommit = True
        conn.cursor().execute("LISTEN outbox")
        return conn

    def _fan_out(self) -> None:
        params = {"urls": list(self.settings.webhook_urls), "tell_moderators": bool(self.settings.moderator_emails)}
        (events,) = self.database.query(outbox.FAN_OUT, params, one=True)
        if events == outbox.FAN_OUT_BATCH:
            self.fanning_backlog = True
        elif self.fanning_backlog:  # the backlog's deliveries are all in: let the planner see them
            self.database.query(outbox.ANALYZE, rows=False)
            self.fanning_backlog = False

    def _claim(self) -> None:
        self.in_flight = {key: future for key, future in self.in_flight.items() if not future.done()}
        room = DELIVERY_THREADS - len(self.in_flight)
        if room <= 0:
            return
        claimed = self.database.query(
            outbox.CLAIM, {"lease": self.lease_seconds, "limit": room, "worker": self.worker_id}
        )
        for delivery in claimed:
            self.in_flight[delivery[0]] = self.executor.submit(self._deliver, *delivery)

    def _wait(self, listener) -> None:
        """Until a notification, a delivery finishing or coming due, or the poll interval."""
        timeout = POLL_SECONDS
        if len(self.in_flight) < DELIVERY_THREADS:
            (until_due,) = self.database.query(outbox.NEXT_DUE, one=True)
            if until_due is not None:
                # At least WAIT_FLOOR: a due delivery may be waiting behind one in flight (order
                # per comment) or leased elsewhere; finishing deliveries wake the loop anyway.
                timeout = min(timeout, max(float(until_due), WAIT_FLOOR))
        watcher = select.poll()
        watcher.register(listener.fileno(), select.POLLIN)
        watcher.register(self.wake_read, select.POLLIN)
        for descriptor, _ in watcher.poll(timeout * 1000):
            if descriptor == self.wake_read:
                os.read(self.wake_read, 4096)
            else:
                listener.poll()
                listener.notifies.clear()

    def _deliver(self, delivery_id, destination, attempts, event_id, event_type, created_at, comment) -> None:
        try:
            outcome = self._attempt(destination, event_id, event_type, created_at, comment)
        except Exception as error:  # a surprise is a failed attempt with its backoff, never a loop
            log.exception("delivery failed unexpectedly", extra={"delivery": delivery_id})
            outcome = webhooks.Outcome("retry", f"{type(error).__name__}: {error}"[:300])
        try:
            self._settle(delivery_id, destination, attempts, event_id, outcome)
        except (ServiceError, psycopg2.Error) as error:  # the lease will expire: delivered again later
            log.warning("could not settle a delivery", extra={"delivery": delivery_id, "reason": str(error)})
        finally:
            self._wake()

    def _attempt(self, destination, event_id, event_type, created_at, comment) -> webhooks.Outcome:
        if destination == "email":
            return self._email(comment)
        event = webhooks.Event(event_id, event_type, created_at, comment)
        return webhooks.post(destination, event, self.settings.webhook_secret, self.settings.webhook_timeout)

    def _email(self, reply: dict) -> webhooks.Outcome:
        # Asked now, not when the event was written: the reply must still be public, and its
        # parent's author still subscribed.
        if reply.get("comment") is None:  # hidden or erased since: a later event, if any, carries it
            return webhooks.Outcome("delivered", "not sent: the reply was hidden after this event")
        recipient = mail.recipient_of(self.database, reply["id"])
        if recipient is None:
            return webhooks.Outcome("delivered", "not sent: the reply is hidden or the author unsubscribed")
        try:
            mail.send(self.settings, mail.reply_message(self.settings, recipient, reply, reply["parent_id"]))
        except (OSError, smtplib.SMTPException) as error:
            return webhooks.Outcome("retry", f"{type(error).__name__}: {error}"[:300])
        return webhooks.Outcome("delivered", "sent")

    def _settle(self, delivery_id, destination, attempts, event_id, outcome: webhooks.Outcome) -> None:
        details = {
            "delivery": delivery_id,
            "event_id": event_id,
            "destination": webhooks.safe_url(destination),
            "attempt": attempts,
            "result": outcome.result,
            "detail": outcome.detail,
        }
        if outcome.result == "delivered":
            self.database.query(outbox.DELIVERED, ([delivery_id], self.worker_id), rows=False)
        elif outcome.result == "retry" and attempts < self.settings.webhook_max_attempts:
            delay = webhooks.retry_delay(attempts, self.settings.webhook_backoff_seconds)
            self.database.query(outbox.RETRY, (delay, outcome.detail, [delivery_id], self.worker_id), rows=False)
            details["retry_in_s"] = round(delay, 1)
        else:
            self.database.query(outbox.FAILED, (outcome.detail, [delivery_id], self.worker_id), rows=False)
            log.warning("delivery failed for good", extra=details)
            return
        log.info("delivery", extra=details)

    def _collect_media_garbage(self) -> None:
        """Images no comment uses (refused posts, crashes, a store that was down during an
        erasure), removed here so that no cron job is needed; errors wait for the next round."""
        try:
            removed = storage.collect_garbage(self.database, self.object_store, self.media_gc_grace)
        except Unavailable as error:
            log.warning("media-gc: will try again later", extra={"reason": error.message})
            return
        if any(removed.values()):
            log.info("media-gc", extra=removed)

    def _drain(self) -> None:
        """Let in-flight deliveries finish within the graceful timeout; release what remains."""
        _, pending = wait(self.in_flight.values(), timeout=max(1.0, self.settings.graceful_timeout - 2))
        unfinished = [key for key, future in self.in_flight.items() if future in pending]
        if unfinished:
            with suppress(ServiceError, psycopg2.Error):  # if this fails, the leases expire by themselves
                self.database.query(outbox.RELEASE, (unfinished, self.worker_id), rows=False)
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.database.close()


def _close(conn) -> None:
    if conn is not None:
        with suppress(psycopg2.Error):
            conn.close()


def main() -> int:
    settings = config.load_or_exit(need_secret=True)
    logs.configure(settings.log_level)
    worker = Worker(settings)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    worker.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
