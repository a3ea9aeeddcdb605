"""The comments API: the Flask app factory and its routes.

gunicorn serves `app:app`; the app is built on first access (see __getattr__ below) so that
importing this module reads no configuration and opens nothing.
"""

import functools
from urllib.parse import urlencode

from flask import Flask, current_app, jsonify, request

import config
import errors
import middleware
import migrate
import openapi
import payload
from comment import MAX_BIGINT, ValidationError, validate_new_comment
from db import CommentDatabase
from json_provider import OrjsonProvider


def create_app(settings: config.Config | None = None) -> Flask:
    settings = settings or config.load_or_exit()
    app = Flask(__name__, static_folder=None)  # an API: no static files
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, DEBUG=settings.debug)
    app.json = OrjsonProvider(app)
    app.extensions["comments_db"] = CommentDatabase(
        settings.require_database_url(),
        pool_size=settings.db_pool_size,
        connect_timeout=settings.db_connect_timeout,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        pool_timeout=settings.db_pool_timeout,
    )
    app.extensions["schema_versions"] = set(migrate.available())
    errors.register(app)
    middleware.register(app, settings.cors_origins)
    register_routes(app)
    return app


def database() -> CommentDatabase:
    return current_app.extensions["comments_db"]


def register_routes(app: Flask) -> None:
    @app.post("/comments")
    def create_comment():
        try:
            new = validate_new_comment(payload.read_body(request))
        except ValidationError as error:
            raise errors.invalid_fields(error.fields) from None
        comment = database().add(new)
        return jsonify(comment), 201, {"Location": f"/comments/{comment.id}"}

    @app.get("/comments")
    def list_comments():
        query = payload.read_list_query(request)
        rows = database().page(
            thread=query.thread, after_id=query.after_id, limit=query.limit + 1, newest_first=query.newest_first
        )
        comments, more = rows[: query.limit], len(rows) > query.limit
        next_cursor = payload.encode_cursor(comments[-1].id) if more else None
        response = jsonify(comments=comments, next_cursor=next_cursor)
        if next_cursor:
            response.headers["Link"] = f'</comments?{urlencode(query.link_params(next_cursor))}>; rel="next"'
        return response

    @app.get("/comments/<int:comment_id>")
    def get_comment(comment_id: int):
        comment = database().get(comment_id) if comment_id <= MAX_BIGINT else None
        if comment is None:
            raise errors.ApiError(404, "comment_not_found", f"There is no comment {comment_id}.")
        return jsonify(comment)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz():
        missing = app.extensions["schema_versions"] - database().applied_migrations()
        if missing:
            raise errors.ApiError(503, "schema_outdated", f"{len(missing)} migration(s) pending: run migrate.")
        return {"status": "ok"}

    @app.get("/openapi.json")
    def openapi_document():
        return openapi.DOCUMENT


@functools.cache
def _wsgi_app() -> Flask:
    return create_app()


def __getattr__(name: str):
    if name == "app":
        return _wsgi_app()
    raise AttributeError(name)
