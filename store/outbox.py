"""The transactional outbox: events are written in the same transaction as the change they
describe, so a change that commits has its event and one that rolls back has none; worker
processes (delivery/worker.py) turn them into deliveries and deliver them. This module holds the SQL of
every step; the admin routes that show and retry failed deliveries are in moderation.py.

Lifecycle: record (web, in the change's transaction) -> fan out (worker: one delivery per
destination) -> claim (worker: a lease, FOR UPDATE SKIP LOCKED) -> delivered, retried later, or
failed for good -> removed after the retention period, in batches.
"""

import orjson

from comment import WITHDRAWN_WORDS, sql_rfc3339


def _json(value: dict) -> str:
    """A constant as a JSON literal for the statements below (no quotes in it to escape)."""
    return orjson.dumps(value).decode()


EVENT_TYPES = ("comment.created", "comment.published", "comment.edited", "comment.hidden", "comment.deleted")
DELIVERY_STATES = ("pending", "delivered", "failed")
# What GET /admin/events shows of a delivery, in the order moderation.EVENTS selects it.
DELIVERY_FIELDS = (
    *("id", "event_id", "type", "comment_id", "destination", "state", "attempts", "last_error"),
    *("created_at", "next_attempt_at"),
)
RETENTION = "7 days"  # delivered events are kept this long, then removed in batches

# The public fields of comment row `c`, as the webhook payload carries them.
PUBLIC_JSON = f"""jsonb_build_object('id', c.id, 'thread', c.thread, 'parent_id', c.parent_id, 'name', c.name,
    'comment', c.comment, 'html', c.html, 'status', c.status,
    'created_at', {sql_rfc3339("c.created_at")}, 'edited_at', {sql_rfc3339("c.edited_at")},
    'images', media_urls(c.images))"""
RECORD = f"""INSERT INTO outbox (type, comment_id, comment)
    SELECT %s, c.id, {PUBLIC_JSON} FROM comments c WHERE c.id = %s"""
# The same, in the insert statement of db.py, from the row its INSERT ... RETURNING gave (alias i):
# comment.created for every new comment but a honeypot catch, comment.published if published.
EVENTS_OF_INSERTED = """events AS (
        INSERT INTO outbox (type, comment_id, comment)
        SELECT t.type, i.id, jsonb_build_object('id', i.id, 'thread', i.thread, 'parent_id', i.parent_id,
            'name', i.name, 'comment', i.comment, 'html', i.html, 'status', i.status, 'created_at', i.created_at,
            'edited_at', i.edited_at, 'images', i.images)
        FROM inserted i, (VALUES ('comment.created'), ('comment.published')) AS t (type)
        WHERE i.status <> 'rejected' AND (t.type = 'comment.created' OR i.status = 'published')
        RETURNING 1
    )"""
NOTIFY_IF_EVENTS = "(SELECT pg_notify('outbox', '') WHERE EXISTS (SELECT FROM events))"
# A deletion: the comment as the public last saw it, without its words.
RECORD_DELETION = f"""INSERT INTO outbox (type, comment_id, comment)
    SELECT 'comment.deleted', c.id,
        {PUBLIC_JSON} || '{_json({**WITHDRAWN_WORDS, "status": "deleted"})}'
    FROM comments c WHERE c.id = %s AND c.status <> 'rejected'"""
# A published comment the public can no longer see (rejected, or edited back into the queue):
# its new status, without its words, so that a receiver mirroring comments takes it down.
RECORD_HIDDEN = f"""INSERT INTO outbox (type, comment_id, comment)
    SELECT 'comment.hidden', c.id, {PUBLIC_JSON} || '{_json(WITHDRAWN_WORDS)}'
    FROM comments c WHERE c.id = %s"""
# Every event already written about a comment that was erased or hidden loses its words, so a
# late delivery, a retry or an operator's "retry" never carries them again.
FORGET_WORDS = f"""UPDATE outbox SET comment = comment || '{_json(WITHDRAWN_WORDS)}'
    WHERE comment_id = %s AND (comment ->> 'name' IS NOT NULL OR comment ->> 'comment' IS NOT NULL
        OR comment -> 'images' <> '[]')"""
# Workers LISTEN on this channel; a notification is sent when the transaction commits.
NOTIFY = "SELECT pg_notify('outbox', '')"


def record(cursor, event_type: str, comment_id: int) -> None:
    """Write an event inside the caller's transaction."""
    cursor.execute(RECORD, (event_type, comment_id))
    cursor.execute(NOTIFY)


def record_deletion(cursor, comment_id: int) -> None:
    """Before an erasure, inside its transaction: the event must not carry the erased words."""
    cursor.execute(RECORD_DELETION, (comment_id,))
    cursor.execute(FORGET_WORDS, (comment_id,))
    cursor.execute(NOTIFY)


def record_status_change(cursor, comment_id: int, old_status: str, new_status: str) -> None:
    """After a moderator's decision (or an edit) changed a comment's status, in its transaction."""
    if new_status == "published" and old_status != "published":
        record(cursor, "comment.published", comment_id)
    elif new_status in ("pending", "rejected") and old_status != new_status:
        cursor.execute(FORGET_WORDS, (comment_id,))
        if old_status == "published":
            cursor.execute(RECORD_HIDDEN, (comment_id,))
            cursor.execute(NOTIFY)


def record_edit(cursor, comment_id: int, *, old_status: str, new_status: str) -> None:
    """An author's edit: its words for receivers, unless it took the comment out of sight."""
    if new_status != old_status:
        record_status_change(cursor, comment_id, old_status, new_status)
    elif new_status != "rejected":
        record(cursor, "comment.edited", comment_id)


# --- worker steps ------------------------------------------------------------------------------

FAN_OUT_BATCH = 1000
# The destination of held comments' notices: sent in digests (delivery/digest.py), never by CLAIM.
MODERATORS = "moderators"
# Returns how many events it fanned out: a full batch means a backlog is being worked through.
FAN_OUT = f"""WITH batch AS (
        SELECT id, comment_id, type, comment ->> 'status' AS status FROM outbox WHERE NOT fanned_out
        ORDER BY id LIMIT {FAN_OUT_BATCH} FOR UPDATE SKIP LOCKED
    ), marked AS (
        UPDATE outbox SET fanned_out = true WHERE id IN (SELECT id FROM batch) RETURNING 1
    ), webhooks AS (
        INSERT INTO deliveries (event, comment_id, destination)
        SELECT b.id, b.comment_id, url FROM batch b, unnest(%(urls)s::text[]) AS url ORDER BY b.id
    ), emails AS (
        -- A reply published: its parent's author asked to hear of replies, and is not the replier.
        INSERT INTO deliveries (event, comment_id, destination)
        SELECT b.id, b.comment_id, 'email' FROM batch b
        JOIN comments r ON r.id = b.comment_id
        JOIN comments p ON p.id = r.parent_id
        WHERE b.type = 'comment.published' AND p.notify_replies AND p.email IS NOT NULL AND p.status = 'published'
          AND lower(coalesce(r.email, '')) <> lower(p.email) AND r.client IS DISTINCT FROM p.client
        ORDER BY b.id
    ), held AS (
        -- A new comment held for moderation, when moderators are to be told (delivery/digest.py).
        INSERT INTO deliveries (event, comment_id, destination)
        SELECT b.id, b.comment_id, '{MODERATORS}' FROM batch b
        WHERE %(tell_moderators)s AND b.type = 'comment.created' AND b.status = 'pending' ORDER BY b.id
    )
    SELECT count(*) FROM marked"""
# Run once a backlog has been fanned out. Thousands of deliveries inserted at once leave the
# planner's statistics saying the table is nearly empty until autovacuum's next look (a minute
# or more), and on those CLAIM sorts every due delivery instead of walking the pending index in
# order: 95 ms per claim at 28,000 waiting, one eighth of the throughput. (Without ownership
# of the table PostgreSQL skips it with a warning; autovacuum then catches up alone.)
ANALYZE = "ANALYZE deliveries"

# Due deliveries, each the oldest pending event for its comment and destination (so events reach
# a receiver in order; by event, and waiting for an earlier event still to be fanned out, since
# two workers may fan out two batches at once), not leased by another worker; leased to this one
# (`worker`) for `lease` seconds.
CLAIM = f"""UPDATE deliveries d SET leased_until = now() + make_interval(secs => %(lease)s),
        leased_by = %(worker)s, attempts = attempts + 1
    FROM outbox o
    WHERE o.id = d.event AND d.id IN (
        SELECT id FROM deliveries x
        WHERE state = 'pending' AND next_attempt_at <= now() AND (leased_until IS NULL OR leased_until < now())
          AND destination <> '{MODERATORS}'
          AND NOT EXISTS (
              SELECT 1 FROM deliveries y WHERE y.comment_id = x.comment_id AND y.destination = x.destination
              AND y.state = 'pending' AND y.event < x.event)
          AND NOT EXISTS (
              SELECT 1 FROM outbox e WHERE e.comment_id = x.comment_id AND NOT e.fanned_out AND e.id < x.event)
        ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
    RETURNING d.id, d.destination, d.attempts, o.event_id::text, o.type,
        {sql_rfc3339("o.created_at")}, o.comment"""
# Settling an attempt, and releasing at shutdown, touch only a lease that is still this worker's:
# one that expired may have been taken over, and is the other worker's to settle; one that an
# operator's retry took back (RETRY_NOW) is to be sent again, after the events before it.
# Each takes a list of deliveries (one, or a moderators' digest: delivery/digest.py).
DELIVERED = """UPDATE deliveries SET state = 'delivered', finished_at = now(), leased_until = NULL
    WHERE id = ANY(%s) AND leased_by = %s"""
RETRY = """UPDATE deliveries SET next_attempt_at = now() + make_interval(secs => %s), leased_until = NULL,
    last_error = %s WHERE id = ANY(%s) AND leased_by = %s"""
FAILED = """UPDATE deliveries SET state = 'failed', finished_at = now(), leased_until = NULL, last_error = %s
    WHERE id = ANY(%s) AND leased_by = %s"""
RELEASE = """UPDATE deliveries SET leased_until = NULL, attempts = attempts - 1
    WHERE id = ANY(%s) AND leased_by = %s AND leased_until > now()"""
# An operator's retry of a failed delivery: it, and every later event of the same comment to the
# same destination (delivered, failed, or being sent right now), are sent again, in order, so the
# receiver ends where the comment is.
RETRY_NOW = """UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = now(), leased_until = NULL,
    leased_by = NULL, finished_at = NULL
    WHERE id IN (SELECT later.id FROM deliveries failed JOIN deliveries later
        ON later.comment_id = failed.comment_id AND later.destination = failed.destination
        AND later.event >= failed.event
        WHERE failed.id = %s AND failed.state = 'failed')
    RETURNING id"""
# Seconds until the earliest pending attempt (an index lookup). Leased deliveries count as due:
# the worker's wait floor keeps that from spinning.
NEXT_DUE = f"""SELECT extract(epoch FROM min(next_attempt_at) - now()) FROM deliveries
    WHERE state = 'pending' AND destination <> '{MODERATORS}'"""
PRUNE = f"""DELETE FROM outbox WHERE id = ANY(ARRAY(
    SELECT o.id FROM outbox o WHERE o.fanned_out AND o.created_at < now() - interval '{RETENTION}'
    AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event = o.id AND d.state <> 'delivered')
    ORDER BY o.id LIMIT 500))"""
