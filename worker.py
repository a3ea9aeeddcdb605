"""`pipenv run worker`: the process that delivers the outbox's events (webhooks, reply e-mails).

The same code base and image as the web process, another process type. Several may run at once:
each delivery is leased to one of them at a time (FOR UPDATE SKIP LOCKED, then a lease in the
row), so in the normal case nothing is delivered twice; a worker that dies (SIGKILL) leaves its
leases to expire and another worker delivers again, with the same event id: at least once.

It wakes on LISTEN/NOTIFY when a change commits and also polls every POLL_SECONDS, so a missed
notification only delays delivery. A slow or hanging receiver holds one of DELIVERY_THREADS for
at most WEBHOOK_TIMEOUT, never the others. SIGTERM: it stops claiming, lets what is in flight
finish (within GRACEFUL_TIMEOUT), releases any lease it still holds, and exits 0. A database
restart is ridden out: it reconnects and carries on.
"""

import logging
import os
import random
import select
import signal
import smtplib
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import suppress

import psycopg2

import config
import logs
import mail
import outbox
import webhooks
from db import CommentDatabase
from exceptions import DatabaseUnavailable, ServiceError

log = logging.getLogger("comments.worker")

POLL_SECONDS = 5.0
WAIT_FLOOR = 0.1
DELIVERY_THREADS = 8
PRUNE_EVERY = 60.0  # seconds between retention sweeps


class Worker:
    def __init__(self, settings: config.Config):
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

    def run(self) -> None:
        log.info(
            "worker started", extra={"webhooks": len(self.settings.webhook_urls), "email": bool(self.settings.smtp_url)}
        )
        listener, last_prune = None, 0.0
        while not self.stopping.is_set():
            try:
                listener = listener or self._listen()
                self._fan_out()
                self._claim()
                if time.monotonic() - last_prune > PRUNE_EVERY:
                    self.database.query(outbox.PRUNE, rows=False)
                    last_prune = time.monotonic()
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
        (events,) = self.database.query(outbox.FAN_OUT, {"urls": list(self.settings.webhook_urls)}, one=True)
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
        claimed = self.database.query(outbox.CLAIM, {"lease": self.lease_seconds, "limit": room})
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
            if destination == "email":
                outcome = self._email(comment)
            else:
                event = webhooks.Event(event_id, event_type, created_at, comment)
                outcome = webhooks.post(destination, event, self.settings.webhook_secret, self.settings.webhook_timeout)
            self._settle(delivery_id, destination, attempts, event_id, outcome)
        except (ServiceError, psycopg2.Error) as error:  # the lease will expire: delivered again later
            log.warning("could not settle a delivery", extra={"delivery": delivery_id, "reason": str(error)})
        except Exception:
            log.exception("delivery failed unexpectedly", extra={"delivery": delivery_id})
        finally:
            self._wake()

    def _email(self, reply: dict) -> webhooks.Outcome:
        recipient = mail.recipient_of(self.database, reply["parent_id"])
        if recipient is None:  # unsubscribed or erased meanwhile: nothing to send
            return webhooks.Outcome("delivered", "no recipient")
        try:
            mail.send(self.settings, mail.reply_message(self.settings, recipient, reply, reply["parent_id"]))
        except (OSError, smtplib.SMTPException) as error:
            return webhooks.Outcome("retry", f"{type(error).__name__}: {error}"[:300])
        return webhooks.Outcome("delivered", "sent")

    def _settle(self, delivery_id, destination, attempts, event_id, outcome: webhooks.Outcome) -> None:
        details = {
            "delivery": delivery_id,
            "event_id": event_id,
            "destination": _safe(destination),
            "attempt": attempts,
            "result": outcome.result,
            "detail": outcome.detail,
        }
        if outcome.result == "delivered":
            self.database.query(outbox.DELIVERED, (delivery_id,), rows=False)
        elif outcome.result == "retry" and attempts < self.settings.webhook_max_attempts:
            delay = self.settings.webhook_backoff_seconds * 2 ** (attempts - 1) * random.uniform(0.8, 1.2)
            self.database.query(outbox.RETRY, (delay, outcome.detail, delivery_id), rows=False)
            details["retry_in_s"] = round(delay, 1)
        else:
            self.database.query(outbox.FAILED, (outcome.detail, delivery_id), rows=False)
            log.warning("delivery failed for good", extra=details)
            return
        log.info("delivery", extra=details)

    def _drain(self) -> None:
        """Let in-flight deliveries finish within the graceful timeout; release what remains."""
        _, pending = wait(self.in_flight.values(), timeout=max(1.0, self.settings.graceful_timeout - 2))
        unfinished = [key for key, future in self.in_flight.items() if future in pending]
        if unfinished:
            with suppress(ServiceError, psycopg2.Error):  # if this fails, the leases expire by themselves
                self.database.query(outbox.RELEASE, (unfinished,), rows=False)
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.database.close()


def _safe(destination: str) -> str:
    """A webhook URL without credentials or query, for the log."""
    if destination == "email":
        return destination
    scheme, _, rest = destination.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}"


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
