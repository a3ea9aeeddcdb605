"""Notices to moderators: when comments are held for moderation, MODERATOR_EMAILS get one
e-mail listing them with their words and a link to each in /admin, at most one e-mail per
MODERATOR_DIGEST_MINUTES, so a spam wave is one e-mail, not a thousand.

Each held comment gets a delivery to the destination "moderators" when its event is fanned out
(store/outbox.py), like any other; CLAIM leaves those alone. Here, in the worker's loop, they
are claimed all at once, and only when no digest went out (or is going out, leased by another
worker) within the interval: one statement decides that, so two workers never send two. What
to list is decided when sending: a comment approved, rejected or erased meanwhile is left out,
and if nothing is left, nothing is sent. A failed send is retried with the deliveries' backoff.
"""

import logging
import smtplib
from email.message import EmailMessage

from delivery import mail, webhooks
from store import outbox

log = logging.getLogger("comments.digest")

BATCH = 500  # comments in one e-mail at most; the rest go in the next
EXCERPT = 500  # characters of each comment shown
# The held comments' deliveries, leased to this worker, if a digest is due: none delivered within
# the interval and none being sent (leased) right now.
CLAIM = f"""UPDATE deliveries SET leased_until = now() + make_interval(secs => %(lease)s), leased_by = %(worker)s,
        attempts = attempts + 1
    WHERE id IN (
        SELECT id FROM deliveries
        WHERE destination = '{outbox.MODERATORS}' AND state = 'pending' AND next_attempt_at <= now()
          AND (leased_until IS NULL OR leased_until < now())
        ORDER BY id LIMIT {BATCH} FOR UPDATE SKIP LOCKED
    ) AND NOT EXISTS (
        SELECT 1 FROM deliveries d WHERE d.destination = '{outbox.MODERATORS}'
          AND ((d.state = 'delivered' AND d.finished_at > now() - make_interval(mins => %(minutes)s))
               OR (d.state = 'pending' AND d.leased_until > now() AND d.leased_by <> %(worker)s))
    ) AND pg_try_advisory_xact_lock(%(lock)s)
    RETURNING id, comment_id, attempts"""
LOCK_KEY = 0x6469676573  # "diges": one digest decision at a time
# Still held, with their words: what the e-mail lists.
STILL_HELD = """SELECT id, thread, name, comment FROM comments WHERE id = ANY(%s) AND status = 'pending' ORDER BY id"""
LEASE_SECONDS = 120


def send_if_due(database, settings, worker_id: str) -> None:
    if not settings.moderator_emails:
        return
    params = {
        "lease": LEASE_SECONDS,
        "worker": worker_id,
        "minutes": settings.moderator_digest_minutes,
        "lock": LOCK_KEY,
    }
    claimed = database.query(CLAIM, params)
    if not claimed:
        return
    ids = [delivery_id for delivery_id, _, _ in claimed]
    held = database.query(STILL_HELD, ([comment_id for _, comment_id, _ in claimed],))
    if not held:
        database.query(outbox.DELIVERED, (ids, worker_id), rows=False)
        log.info("digest", extra={"result": "not sent: nothing is held any more", "deliveries": len(ids)})
        return
    try:
        mail.send(settings, message(settings, held))
    except (OSError, smtplib.SMTPException) as error:
        attempts = max(attempts for _, _, attempts in claimed)
        _retry(database, settings, (ids, worker_id), attempts, f"{type(error).__name__}: {error}")
        return
    database.query(outbox.DELIVERED, (ids, worker_id), rows=False)
    log.info("digest", extra={"result": "sent", "comments": len(held), "to": len(settings.moderator_emails)})


def message(settings, held: list[tuple]) -> EmailMessage:
    count = len(held)
    lines = [
        f"{count} new comment{'s' if count != 1 else ''} {'is' if count == 1 else 'are'} waiting for moderation:",
        "",
    ]
    for comment_id, thread, name, words in held:
        excerpt = words if len(words) <= EXCERPT else words[:EXCERPT].rstrip() + "…"
        lines += [
            f"{mail.one_line(name)} on {mail.one_line(thread)}:",
            excerpt,
            f"{settings.public_url}/admin#comment-{comment_id}",
            "",
        ]
    lines.append(f"At most one of these e-mails goes out every {settings.moderator_digest_minutes} minutes.")
    email = EmailMessage()
    email["From"] = settings.mail_from
    email["To"] = ", ".join(settings.moderator_emails)
    email["Subject"] = f"{count} comment{'s' if count != 1 else ''} waiting for moderation"
    email.set_content("\n".join(lines))
    return email


def _retry(database, settings, leased: tuple[list[int], str], attempts: int, detail: str) -> None:
    if attempts < settings.webhook_max_attempts:
        delay = webhooks.retry_delay(attempts, settings.webhook_backoff_seconds)
        database.query(outbox.RETRY, (delay, detail[:300], *leased), rows=False)
        log.warning("digest not sent; will retry", extra={"reason": detail[:300], "retry_in_s": round(delay, 1)})
    else:
        database.query(outbox.FAILED, (detail[:300], *leased), rows=False)
        log.warning("digest failed for good", extra={"reason": detail[:300]})
