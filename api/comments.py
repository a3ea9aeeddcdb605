"""The public comments API: post a comment, list a thread, read one comment.

Each view parses (web/payload.py), validates (comment.py) and calls the database (db.py); errors are
raised as domain errors (core/exceptions.py) and rendered by web/errors.py.
"""

from functools import partial
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, request

from comment import START, CreatedComment, NewComment, validate_new_comment
from core import spam
from core.exceptions import CommentNotFound, InvalidInput, ServiceError
from db import database
from media import storage
from web import auth, idempotency, payload
from web.json_provider import json_response

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
    status = spam.status_for_new(
        honeypot=new.honeypot, text=new.comment, moderation=settings.moderation, max_links=settings.max_links
    )
    token, token_hash = auth.new_edit_token()
    client = auth.current_client()
    comment = database().add(
        new,
        status=status,
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
    if query.thread is not None and request.if_none_match:
        # A revalidation: one index lookup answers it while the thread has not changed.
        version = database().thread_version(query.thread, reader=auth.current_client)
        if version is not None and request.if_none_match.contains_weak(_etag(version)):
            return _not_modified(version)
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
    next_cursor = end if page.more else None
    # The comments arrive as JSON made by PostgreSQL; the cursors are base64url, safe in quotes.
    body = b'{"comments":[%b],"next_cursor":%b,"poll_cursor":"%b"}' % (
        page.comments_json,
        f'"{next_cursor}"'.encode() if next_cursor else b"null",
        end.encode(),
    )
    response = json_response(body)
    if next_cursor:
        response.headers["Link"] = f'</comments?{urlencode(query.link_params(next_cursor))}>; rel="next"'
    if page.version is not None:
        _tag(response, page.version)
    return response


def _etag(version: int) -> str:
    """A thread's listings as of its version (the value inside W/"..."). The image URLs' prefix
    is part of it: another MEDIA_PUBLIC_URL makes other bytes."""
    return f"{version}-{current_app.extensions['etag_salt']}"


def _tag(response: Response, version: int) -> Response:
    response.set_etag(_etag(version), weak=True)  # weak: a proxy may compress the bytes
    response.headers["Cache-Control"] = "no-cache"  # may be kept, but asked about each time
    return response


def _not_modified(version: int) -> Response:
    return _tag(Response(status=304), version)


@blueprint.get("/comments/<id:comment_id>")
def get_comment(comment_id: int):
    comment = database().get(comment_id, reader=auth.current_client)
    if comment is None:
        raise CommentNotFound(comment_id)
    return json_response(comment)


def _legacy_position(comment_id: int):
    position = database().position_of(comment_id, reader=auth.current_client)
    if position is None:
        raise InvalidInput(
            "Some query parameters are invalid.", code="invalid_query", fields={"cursor": "points at no comment"}
        )
    return position
