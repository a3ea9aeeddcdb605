"""The public comments API: post a comment, list a thread, read one comment.

Each view parses (web/payload.py), validates (comment.py) and calls the database (db.py); errors are
raised as domain errors (core/exceptions.py) and rendered by web/errors.py.
"""

import logging
import time
import zlib
from functools import partial
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.http import parse_etags
from werkzeug.wrappers import Request

from comment import START, CreatedComment, NewComment, validate_new_comment
from core import logs, spam
from core.exceptions import CommentNotFound, InvalidInput, ServiceError
from db import CommentDatabase, database
from media import storage
from web import auth, idempotency, middleware, payload

blueprint = Blueprint("comments", __name__)
log = logging.getLogger("comments.listing")


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
    query = payload.read_list_query(request)  # (a reader's copy still current was answered by UnchangedFirst)
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


def _etag(version: int, query_string: bytes) -> str:
    # The thread's version names its state; the query names the page of it (each URL its own tag).
    return f"{version:x}.{zlib.crc32(query_string):08x}"


def _tag(response: Response, version: int) -> Response:
    # Written as plain headers: werkzeug's set_etag() and cache_control object cost 40 µs a page.
    response.headers["ETag"] = f'"{_etag(version, request.query_string)}"'
    response.headers["Cache-Control"] = "no-cache"  # a browser or proxy may keep it, and asks again each time
    return response


class UnchangedFirst:
    """WSGI, in front of Flask: a reader whose copy of a listing page is still current gets its
    304 after one index lookup (the thread's version), before Flask is involved at all.

    Every open widget asks again every few seconds and almost always hears "unchanged", so this
    is the service's most frequent answer; Flask's request machinery cost more than the rest of
    it together (0.5 against 0.33 ms of CPU per 304). The answer carries what Flask's would:
    the ETag and Cache-Control of _tag, and web/middleware.py's headers and access line.
    Anything else (another request, a query that is not valid, a tag that does not match, any
    error) goes on to Flask, which answers it as always."""

    def __init__(self, wsgi_app, database: CommentDatabase, settings):
        self.wsgi_app, self.database, self.settings = wsgi_app, database, settings
        self.cors = middleware.Cors(settings.cors_origins)

    def __call__(self, environ, start_response):
        if "HTTP_IF_NONE_MATCH" in environ and environ["PATH_INFO"] == "/comments":
            started = time.perf_counter()
            tag = self._current_tag(environ)
            if tag is not None:
                return self._not_modified(environ, start_response, tag, started)
        return self.wsgi_app(environ, start_response)

    def _current_tag(self, environ) -> str | None:
        """The page's tag, if the reader holds it now; else None (and Flask answers)."""
        remote_addr = environ.get("REMOTE_ADDR")
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            return None
        if self.settings.trusted_proxies and not auth.is_address(remote_addr):
            return None  # Flask refuses it
        try:
            thread = payload.read_list_query(Request(environ)).thread
            if thread is None:
                return None
            reader = partial(auth.client_fingerprint, self.settings.secret_key, remote_addr)
            version = self.database.thread_version(thread, reader=reader)
        except ServiceError:
            return None  # an invalid query or a database error: Flask answers it as it should
        except Exception:  # a bug here must cost a full page, not a bare 500
            log.exception("answering an unchanged listing before Flask failed; Flask answers it")
            return None
        if version is None:
            return None
        tag = _etag(version, environ.get("QUERY_STRING", "").encode("latin-1"))
        return tag if parse_etags(environ["HTTP_IF_NONE_MATCH"]).contains(tag) else None

    def _not_modified(self, environ, start_response, tag: str, started: float):
        request_id = middleware.request_id_for(environ.get("HTTP_X_REQUEST_ID"))
        headers = [("ETag", f'"{tag}"'), ("Cache-Control", "no-cache")]
        headers += middleware.every_answer_headers(request_id, self.cors, environ.get("HTTP_ORIGIN"))
        start_response("304 NOT MODIFIED", headers)
        token = logs.request_id.set(request_id)
        try:
            method, duration_ms = environ["REQUEST_METHOD"], (time.perf_counter() - started) * 1000
            middleware.log_request(method, "/comments", 304, duration_ms, 0, environ.get("REMOTE_ADDR"))
        finally:
            logs.request_id.reset(token)
        return []


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
