"""The public comments API: post a comment, list a thread, read one comment.

Each view parses (web/payload.py), validates (comment.py) and calls the database (db.py); errors are
raised as domain errors (core/exceptions.py) and rendered by web/errors.py. The reads are also
answered before Flask, by ReadsFirst below, with the same code.
"""

import re
import time
import zlib
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlencode

import orjson
from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.http import HTTP_STATUS_CODES, parse_etags
from werkzeug.wrappers import Request

from comment import ID_IN_PATH, START, CreatedComment, NewComment, parse_id, validate_new_comment
from core import logs, spam
from core.exceptions import CommentNotFound, InvalidInput, ServiceError
from db import CommentDatabase, database
from media import storage
from store.replica import Reader
from web import auth, idempotency, middleware, payload
from web.json_provider import OrjsonProvider

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


# Reads are built as an Answer by the functions below, and sent by whichever comes first:
# ReadsFirst in front of Flask, or the Flask views (which answer every error ReadsFirst meets).
@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""


JSON = ("Content-Type", OrjsonProvider.mimetype)


@blueprint.get("/comments")
def list_comments():
    return _sent_by_flask(listing(request, request.headers.get("If-None-Match"), database(), auth.current_client))


@blueprint.get("/comments/<id:comment_id>")
def get_comment(comment_id: int):
    return _sent_by_flask(one_comment(comment_id, database(), auth.current_client))


def _sent_by_flask(answer: Answer) -> Response:
    return Response(answer.body, status=answer.status, headers=answer.headers)


def listing(asked: Request, if_none_match: str | None, db: CommentDatabase, reader: Reader) -> Answer:
    """A page of a thread or of the whole site; a 304 when the reader's copy is still current
    (one index lookup, no page query)."""
    query = payload.read_list_query(asked)
    if query.thread is not None and if_none_match:
        version = db.thread_version(query.thread, reader=reader)
        tag = None if version is None else _etag(version, asked.query_string)
        if tag is not None and parse_etags(if_none_match).contains(tag):
            return Answer(304, _tag_headers(tag))
    if query.order == "top":
        return _best_first(query, asked, db, reader)
    after = query.after if query.legacy_after_id is None else _legacy_position(query.legacy_after_id, db, reader)
    page = db.page(thread=query.thread, after=after, limit=query.limit, newest_first=query.newest_first, reader=reader)
    # Where this page ends: ask from there for the next page now, or for new comments later.
    end = payload.encode_cursor(page.last or after or START)
    return _page_answer(query, asked, page, next_cursor=end if page.more else None, poll_cursor=end)


def _best_first(query: payload.ListQuery, asked: Request, db: CommentDatabase, reader: Reader) -> Answer:
    page = db.top_page(thread=query.thread, after=query.after, limit=query.limit, reader=reader)
    next_cursor = payload.encode_rank(page.last) if page.more else None
    poll_cursor = payload.encode_cursor(page.end or START)  # new comments come at the end, in listing order
    return _page_answer(query, asked, page, next_cursor=next_cursor, poll_cursor=poll_cursor)


def _page_answer(query: payload.ListQuery, asked: Request, page, *, next_cursor: str | None, poll_cursor: str):
    body = orjson.dumps({"comments": page.comments, "next_cursor": next_cursor, "poll_cursor": poll_cursor})
    headers = [JSON]
    if next_cursor:
        headers.append(("Link", f'</comments?{urlencode(query.link_params(next_cursor))}>; rel="next"'))
    if page.version is not None:
        headers += _tag_headers(_etag(page.version, asked.query_string))
    return Answer(200, headers, body)


def _etag(version: int, query_string: bytes) -> str:
    # The thread's version names its state; the query names the page of it (each URL its own tag).
    return f"{version:x}.{zlib.crc32(query_string):08x}"


def _tag_headers(tag: str) -> list[tuple[str, str]]:
    # no-cache: a browser or proxy may keep the page, and asks again each time.
    return [("ETag", f'"{tag}"'), ("Cache-Control", "no-cache")]


def one_comment(comment_id: int, db: CommentDatabase, reader: Reader) -> Answer:
    comment = db.get(comment_id, reader=reader)
    if comment is None:
        raise CommentNotFound(comment_id)
    return Answer(200, [JSON], orjson.dumps(comment))


class ReadsFirst:
    """WSGI, in front of Flask: the public reads (a listing page, its 304, one comment) answered
    without Flask's request machinery, which cost more than the rest of a read together.

    Reads are most of a comment service's traffic: every open widget asks again every few
    seconds. Measured per request, Flask and werkzeug took about 160 µs of a page's 620 and
    150 of a comment's 510, and a 304 cost 0.51 ms of CPU through Flask against 0.33 ms here
    (docs/performance.md). The answer is the one the views build (listing, one_comment), with
    the headers and access line web/middleware.py gives every answer. Anything else goes on
    to Flask: other requests, and every error (an invalid query, a comment not found, a
    database outage), which Flask raises again before any view runs, for web/errors.py to
    answer."""

    ONE = re.compile(f"/comments/({ID_IN_PATH})")  # as app.py's IdConverter matches it

    def __init__(self, wsgi_app, database: CommentDatabase, settings):
        self.wsgi_app, self.database, self.settings = wsgi_app, database, settings
        self.cors = middleware.Cors(settings.cors_origins)

    def __call__(self, environ, start_response):
        path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
        if method in ("GET", "HEAD") and path.startswith("/comments"):
            started = time.perf_counter()
            # Anything logged meanwhile carries the request's id (Flask keeps it if it answers).
            token = logs.request_id.set(middleware.request_id_of(environ))
            try:
                answer = self._answer(environ, path)
                if answer is not None:
                    return self._send(answer, environ, start_response, started)
            finally:
                logs.request_id.reset(token)
        return self.wsgi_app(environ, start_response)

    def _answer(self, environ, path: str) -> Answer | None:
        remote_addr = environ.get("REMOTE_ADDR")
        if self.settings.trusted_proxies and not auth.is_address(remote_addr):
            return None  # Flask refuses it
        reader = partial(auth.client_fingerprint, self.settings.secret_key, remote_addr)
        try:
            if path == "/comments":
                return listing(Request(environ), environ.get("HTTP_IF_NONE_MATCH"), self.database, reader)
            one = self.ONE.fullmatch(path)
            comment_id = parse_id(one.group(1)) if one else None
            return one_comment(comment_id, self.database, reader) if comment_id else None
        except Exception as error:  # every error is Flask's to answer, once
            # Raised again at Flask's door (web/middleware.py), so web/errors.py answers it (and
            # logs a bug once) without the read being tried twice: a database that does not
            # answer must cost one timeout, not two.
            environ[middleware.FAILED_BEFORE_FLASK] = error
            return None

    def _send(self, answer: Answer, environ, start_response, started: float):
        headers = [*answer.headers]
        if answer.status != 304:  # after its Content-Type, where Flask writes it
            headers.insert(1, ("Content-Length", str(len(answer.body))))
        headers += middleware.every_answer_headers(
            middleware.request_id_of(environ), self.cors, environ.get("HTTP_ORIGIN")
        )
        start_response(f"{answer.status} {HTTP_STATUS_CODES[answer.status].upper()}", headers)
        method, duration_ms = environ["REQUEST_METHOD"], (time.perf_counter() - started) * 1000
        size, remote_addr = len(answer.body), environ.get("REMOTE_ADDR")
        middleware.log_request(method, environ["PATH_INFO"], answer.status, duration_ms, size, remote_addr)
        # No body with a 304, nor for HEAD (its Content-Length is the GET's, as Flask's is).
        return [] if answer.status == 304 or environ["REQUEST_METHOD"] == "HEAD" else [answer.body]


def _legacy_position(comment_id: int, db: CommentDatabase, reader: Reader):
    position = db.position_of(comment_id, reader=reader)
    if position is None:
        raise InvalidInput(
            "Some query parameters are invalid.", code="invalid_query", fields={"cursor": "points at no comment"}
        )
    return position
