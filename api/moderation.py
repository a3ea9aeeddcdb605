"""The admin API: moderators list every comment, publish or reject it, and erase it; operators
see the outbox's deliveries that failed for good and send them again.

Every route needs `Authorization: Bearer <secret>`: ADMIN_TOKEN (the account `admin`) or a
moderator's secret (api/moderators.py); with neither, the admin API answers 401 to everyone.
Every action is written to moderation_log, with the moderator's name, in the same transaction as
the change it records, and logged.
"""

import logging
from urllib.parse import urlencode

from flask import Blueprint, current_app, jsonify, request

from api import media, moderators
from comment import AdminComment, Position, sql_rfc3339
from core.exceptions import CommentNotFound, Conflict, InvalidInput, NotFound, ValidationError
from db import AFTER_IMAGES, FIELDS_BUT_IMAGES, database, erase, images_sql
from delivery import webhooks
from media import storage
from store import outbox
from web import payload

blueprint = Blueprint("moderation", __name__, url_prefix="/admin")
log = logging.getLogger("comments.moderation")

DECISIONS = ("published", "rejected")
# The images' URL prefix is a parameter (media.admin_base()): moderators' URLs are under
# /admin/media/, since /media/ serves only the images of published comments.
ADMIN_COLUMNS = (
    f"{FIELDS_BUT_IMAGES}, {images_sql('media_urls(images, %s)')}, {AFTER_IMAGES}, client, email, notify_replies"
)
RECORD = """INSERT INTO moderation_log (action, comment_id, old_status, new_status, token_fingerprint, moderator)
    VALUES (%s, %s, %s, %s, %s, %s)"""


blueprint.before_request(moderators.require_moderator)


@blueprint.get("/comments")
def list_comments():
    query = payload.read_admin_list_query(request)
    sql, params = _page_sql(query)
    rows = database().query(sql, params)
    more, rows = len(rows) > query.limit, rows[: query.limit]
    comments = [AdminComment(*row[:-1]) for row in rows]
    next_cursor = payload.encode_cursor(Position.of(rows[-1][-1], comments[-1])) if more else None
    response = jsonify(comments=comments, next_cursor=next_cursor)
    if next_cursor:
        response.headers["Link"] = f'</admin/comments?{urlencode(query.link_params(next_cursor))}>; rel="next"'
    return response


@blueprint.patch("/comments/<id:comment_id>")
def decide(comment_id: int):
    payload.reject_query(request)
    body = payload.read_json_body(request, current_app.config["MAX_CONTENT_LENGTH"])
    if set(body) != {"status"} or body["status"] not in DECISIONS:
        raise ValidationError({"status": "must be the only field, published or rejected"})
    return jsonify(set_status(comment_id, body["status"]))


@blueprint.delete("/comments/<id:comment_id>")
def erase_comment(comment_id: int):
    payload.reject_query(request)
    erase_for_good(comment_id)
    return "", 204


def set_status(comment_id: int, status: str) -> AdminComment:
    """A moderator's decision (published or rejected), its audit record and its events, in one
    transaction; CommentNotFound, or Conflict for a deleted comment."""
    with database().transaction() as cursor:
        cursor.execute("SELECT status FROM comments WHERE id = %s FOR UPDATE", (comment_id,))
        row = cursor.fetchone()
        if row is None:
            raise CommentNotFound(comment_id)
        old_status = row[0]
        if old_status == "deleted":
            raise Conflict("A deleted comment cannot be published or rejected.", code="comment_deleted")
        cursor.execute(
            f"UPDATE comments SET status = %s WHERE id = %s RETURNING {ADMIN_COLUMNS}",
            (status, comment_id, media.admin_base()),
        )
        comment = AdminComment(*cursor.fetchone())
        record(cursor, "set_status", comment_id, old_status, status)
        outbox.record_status_change(cursor, comment_id, old_status, status)
    return comment


def erase_for_good(comment_id: int) -> None:
    """A moderator's erasure (db.erase) with its audit record; its images released after commit."""
    with database().transaction() as cursor:
        erased = erase(cursor, comment_id)
        if erased is None:
            raise CommentNotFound(comment_id)
        record(cursor, "erase", comment_id, erased.status, None)
    storage.release(erased.media_ids)


@blueprint.get("/media/<key>")
def image(key: str):
    """Any comment's image, hidden ones included: what a moderator needs to decide."""
    return media.redirect_to(key, media.IN_USE, "private, no-store")


# --- the outbox's deliveries (store/outbox.py) ---

EVENTS = f"""SELECT d.id, o.event_id::text, o.type, o.comment_id, d.destination, d.state, d.attempts, d.last_error,
    {sql_rfc3339("o.created_at")}, {sql_rfc3339("d.next_attempt_at")}
    FROM deliveries d JOIN outbox o ON o.id = d.event WHERE d.state = %s ORDER BY d.id DESC LIMIT 100"""


@blueprint.get("/events")
def list_events():
    state = request.args.get("state", "failed")
    if state not in outbox.DELIVERY_STATES or set(request.args) - {"state"}:
        fields = {"state": f"must be one of: {', '.join(outbox.DELIVERY_STATES)}"}
        raise InvalidInput("Some query parameters are invalid.", code="invalid_query", fields=fields)
    rows = database().query(EVENTS, (state,))
    events = [dict(zip(outbox.DELIVERY_FIELDS, row, strict=True)) for row in rows]
    for event in events:
        event["destination"] = webhooks.safe_url(event["destination"])  # no credentials in the answer
    return jsonify(events=events)


@blueprint.post("/events/<id:delivery_id>/retry")
def retry(delivery_id: int):
    with database().transaction() as cursor:
        cursor.execute(outbox.RETRY_NOW, (delivery_id,))
        if not cursor.fetchall():
            raise NotFound(f"There is no failed delivery {delivery_id}.", code="event_not_found")
        cursor.execute(outbox.NOTIFY)
    return "", 204


def record(cursor, action: str, comment_id: int, old_status: str, new_status: str | None) -> None:
    fingerprint, moderator = moderators.credential_fingerprint(), moderators.current_moderator()
    cursor.execute(RECORD, (action, comment_id, old_status, new_status, fingerprint, moderator))
    log.info(
        "moderation",
        extra={
            "action": action,
            "comment_id": comment_id,
            "old_status": old_status,
            "new_status": new_status,
            "token_fingerprint": fingerprint,
            "moderator": moderator,
        },
    )


def _page_sql(query: payload.AdminListQuery) -> tuple[str, tuple]:
    """Newest first, every status, keyset-paged on (txid, created_at, id) like the public listing."""
    conditions, params = ["true"], [media.admin_base()]  # ADMIN_COLUMNS' placeholder comes first
    for column, value in (("status", query.status), ("thread", query.thread)):
        if value is not None:
            conditions.append(f"{column} = %s")
            params.append(value)
    if query.before is not None:
        conditions.append("(txid, created_at, id) < (%s, %s, %s)")
        params += [query.before.txid, query.before.created_at, query.before.id]
    sql = (
        f"SELECT {ADMIN_COLUMNS}, txid FROM comments WHERE {' AND '.join(conditions)}"
        " ORDER BY txid DESC, comments.created_at DESC, id DESC LIMIT %s"  # the timestamp, not the alias
    )
    return sql, (*params, query.limit + 1)
