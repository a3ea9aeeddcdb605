"""The public comments API: post a comment, list a thread, read one comment.

Each view parses (web/payload.py), validates (comment.py) and calls the database (db.py); errors are
raised as domain errors (core/exceptions.py) and rendered by web/errors.py.
"""

import zlib
from functools import partial
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, request

from comment import START, CreatedComment, NewComment, validate_new_comment
from core import spam
from core.exceptions import CommentNotFound, InvalidInput, ServiceError
from db import database
from media import storage
from web import auth, idempotency, payload

blueprint = Blueprint("comments", __name__)


@blueprint.post("/comments")
def create_comment():
    payload.reject_query(request)
    fields, uploads = payload.read_body(request, current_app.config["MAX_CONTENT_LENGTH"], storage.image_limits())
    if replayed := idempotency.replay(request, fields, uploads):
        return replayed  # before any work: the limit it paid, its images, the store
    new = validate_new_comment(fields)
    if not uploads:
        return _admit(new, images=[], media_ids=[], fields=fields, limited=True)
    # Decoding and storing images is dear: paid for before, whether they are accepted or not.
    database().charge(auth.current_client(), current_app.config["SETTINGS"].rate_limit_posts)
    images = storage.process(uploads)
    with storage.upload_slot():  # 503 when this process's uploads are all busy (a slow store)
        media_ids = storage.store(images)  # uploaded before the comment commits (media/storage.py)
    try:
        described = [image.describe() for image in images]
        return _admit(new, images=described, media_ids=media_ids, fields=fields, uploads=uploads, limited=False)
    except ServiceError:
        storage.release(media_ids)  # refused (409, 429, 400...): its uploads serve no comment
        raise


def _admit(new: NewComment, *, images, media_ids, fields, uploads=(), limited: bool) -> Response:
    post = partial(_post, new, images, media_ids, limited)
    if idempotency.key_of(request) is None:
        return post(None)  # the common case: one statement, committed at once
    return idempotency.run_once(request, post, fields=fields, uploads=uploads)


def _post(new: NewComment, images: list[dict], media_ids: list[int], limited: bool, cursor) -> Response:
    """Admit and store the comment (in the cursor's transaction, if given); the 201."""
    settings = current_app.config["SETTINGS"]
    held_by = spam.held_by_new(
        honeypot=new.honeypot, text=new.comment, moderation=settings.moderation, max_links=settings.max_links
    )
    token, token_hash = auth.new_edit_token()
    client = auth.current_client()
    comment = database().add(
        new,
        status=spam.status_for_new(held_by),
        held_by=held_by,
        token_hash=token_hash,
        client=client,
        limit=settings.rate_limit_posts if limited else None,
        images=images,
        media_ids=media_ids,
        cursor=cursor,
    )
    database().note_write(client, cursor=cursor)
    comment.status = spam.status_shown_to_author(comment.status)
    response = jsonify(CreatedComment.of(comment, token))
    response.status_code = 201
    response.headers["Location"] = f"/comments/{comment.id}"
    return response


@blueprint.get("/comments")
def list_comments():
    query = payload.read_list_query(request)
    if query.thread is not None and request.if_none_match and (unchanged := _unchanged(query.thread)):
        return unchanged
    if query.order == "top":
        return _best_first(query)
    after = query.after if query.legacy_after_id is None else _legacy_position(query.legacy_after_id)
    page = database().page(
        thread=query.thread,
        after=after,
        limit=query.limit,
        newest_first=query.newest_first,
        reader=auth.current_client,
    )
    # Where this page ends: ask from there for the next page now, or for new comments later.
    end = payload.encode_cursor(page.last or after or START)
    return _page_response(query, page, next_cursor=end if page.more else None, poll_cursor=end)


def _best_first(query: payload.ListQuery) -> Response:
    page = database().top_page(thread=query.thread, after=query.after, limit=query.limit, reader=auth.current_client)
    next_cursor = payload.encode_rank(page.last) if page.more else None
    poll_cursor = payload.encode_cursor(page.end or START)  # new comments come at the end, in listing order
    return _page_response(query, page, next_cursor=next_cursor, poll_cursor=poll_cursor)


def _page_response(query: payload.ListQuery, page, *, next_cursor: str | None, poll_cursor: str) -> Response:
    response = jsonify(comments=page.comments, next_cursor=next_cursor, poll_cursor=poll_cursor)
    if next_cursor:
        response.headers["Link"] = f'</comments?{urlencode(query.link_params(next_cursor))}>; rel="next"'
    if page.version is not None:
        _tag(response, page.version)
    return response


def _unchanged(thread: str) -> Response | None:
    """A 304 when the reader's copy is current: one index lookup, no page query. A poll from
    the end of a thread (poll_cursor) that finds nothing new is answered here."""
    version = database().thread_version(thread, reader=auth.current_client)
    if version is None or not request.if_none_match.contains(_etag(version)):
        return None
    return _tag(Response(status=304), version)


def _etag(version: int) -> str:
    # The thread's version names its state; the query names the page of it (each URL its own tag).
    return f"{version:x}.{zlib.crc32(request.query_string):08x}"


def _tag(response: Response, version: int) -> Response:
    # Written as plain headers: werkzeug's set_etag() and cache_control object cost 40 µs a page.
    response.headers["ETag"] = f'"{_etag(version)}"'
    response.headers["Cache-Control"] = "no-cache"  # a browser or proxy may keep it, and asks again each time
    return response


@blueprint.get("/comments/<id:comment_id>")
def get_comment(comment_id: int):
    comment = database().get(comment_id, reader=auth.current_client)
    if comment is None:
        raise CommentNotFound(comment_id)
    return jsonify(comment)


def _legacy_position(comment_id: int):
    position = database().position_of(comment_id, reader=auth.current_client)
    if position is None:
        raise InvalidInput(
            "Some query parameters are invalid.", code="invalid_query", fields={"cursor": "points at no comment"}
        )
    return position
