"""Authors fix their own words: PATCH and DELETE /comments/{id} with the comment's edit token.

The token is shown once, in the 201 that created the comment; the table keeps only its hash
(auth.py). Both work within EDIT_WINDOW_SECONDS of creation; an edit costs as much of the
client's rate limit as a post, and a comment takes at most MAX_EDITS edits. A missing, malformed or wrong token
is refused with one answer (401), except that a comment the public cannot see stays a 404.
"""

from functools import partial

from flask import Blueprint, Response, current_app, jsonify, request

from comment import MAX_EDITS, PUBLIC_STATUSES, Comment, Edit, validate_edit
from core import formatting, spam
from core.exceptions import CommentNotFound, Forbidden, Unauthorized
from db import COLUMNS, database, erase
from media import storage
from store import outbox
from web import auth, idempotency, payload

blueprint = Blueprint("ownership", __name__)

# The edit token's hash, the status, whether the edit window is still open, and the edits made;
# locked, so that the checks and the change see one state.
AUTHORSHIP = """SELECT edit_token_hash, status, created_at > now() - make_interval(secs => %s), edits
    FROM comments WHERE id = %s AND status <> 'deleted' FOR UPDATE"""
UPDATE = f"""UPDATE comments SET name = coalesce(%s, name), comment = coalesce(%s, comment),
    html = coalesce(%s, html), status = %s, held_by = coalesce(%s, held_by), edited_at = now(), edits = edits + 1
    WHERE id = %s AND status = %s RETURNING {COLUMNS}"""


@blueprint.patch("/comments/<id:comment_id>")
def edit_comment(comment_id: int):
    payload.reject_query(request)
    body = payload.read_json_body(request, current_app.config["MAX_CONTENT_LENGTH"])
    if replayed := idempotency.replay(request, body):
        return replayed
    edit = validate_edit(body)
    return idempotency.run_once(request, partial(_edit, comment_id, edit), fields=body)


@blueprint.delete("/comments/<id:comment_id>")
def delete_comment(comment_id: int):
    payload.reject_query(request)
    released = []  # the images the comment used, deleted once the erasure has committed
    response = idempotency.run_once(request, partial(_erase, comment_id, released), fields={})
    storage.release(released)
    return response


# Authorisation runs inside the change, after an Idempotency-Key's replay: a repeated DELETE
# answers its first 204, not the 404 of a comment that is gone. Everything runs on the change's
# own cursor: one request holds one connection.
def _edit(comment_id: int, edit: Edit, cursor) -> Response:
    settings = current_app.config["SETTINGS"]
    status = authorize_author(comment_id, cursor, editing=True)
    client = auth.current_client()
    database().charge(client, settings.rate_limit_posts, cursor=cursor)  # an edit costs like a post
    held_by = spam.held_by_edit(status, text=edit.comment, moderation=settings.moderation, max_links=settings.max_links)
    new_status = spam.status_after_edit(status, held_by)
    html = formatting.render(edit.comment) if edit.comment is not None else None
    cursor.execute(UPDATE, (edit.name, edit.comment, html, new_status, held_by, comment_id, status))
    row = cursor.fetchone()
    if row is None:  # erased or moderated between the check and the update
        raise CommentNotFound(comment_id)
    outbox.record_edit(cursor, comment_id, old_status=status, new_status=new_status)
    database().note_write(client, cursor=cursor)
    comment = Comment(*row)
    comment.status = spam.status_shown_to_author(comment.status)
    return jsonify(comment)


def _erase(comment_id: int, released: list[int], cursor) -> Response:
    authorize_author(comment_id, cursor)
    erased = erase(cursor, comment_id)
    if erased is None:
        raise CommentNotFound(comment_id)
    released.extend(erased.media_ids)
    database().note_write(auth.current_client(), cursor=cursor)
    return Response(status=204)


def authorize_author(comment_id: int, cursor, *, editing: bool = False) -> str:
    """The comment's status, if the request carries its edit token and the window is open (and,
    for an edit, the comment has edits left); locks the comment until the transaction ends."""
    window = current_app.config["SETTINGS"].edit_window_seconds
    cursor.execute(AUTHORSHIP, (window, comment_id))
    row = cursor.fetchone()
    if row is None:
        raise CommentNotFound(comment_id)
    token_hash, status, within_window, edits = row
    if not auth.same_secret(auth.bearer_token(request), token_hash and bytes(token_hash)):
        if status not in PUBLIC_STATUSES:
            raise CommentNotFound(comment_id)
        raise Unauthorized()
    if not within_window:
        raise Forbidden("The time for editing this comment is over.", code="edit_window_closed")
    if editing and edits >= MAX_EDITS:
        raise Forbidden(f"A comment can be edited at most {MAX_EDITS} times.", code="edit_limit_reached")
    return status
