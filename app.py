"""The comments API's app factory: settings, the database, error handling, and the blueprints.

gunicorn serves `app:app`; the app is built on first access (see __getattr__ below) so that
importing this module reads no configuration and opens nothing.
"""

import functools
import logging

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import BaseConverter

import config
from api import (
    admin_app,
    comments,
    counts,
    feeds,
    health,
    media,
    moderation,
    openapi,
    ownership,
    people,
    preview,
    unsubscribe,
    votes,
    widget,
)
from comment import ID_IN_PATH, parse_id
from db import CommentDatabase
from media import storage
from store import migrate
from store.object_store import ObjectStore
from web import errors, middleware
from web.json_provider import OrjsonProvider

# Every route, by feature (api/): one blueprint each.
FEATURES = (
    comments,
    votes,
    preview,
    ownership,
    moderation,
    people,
    admin_app,
    counts,
    feeds,
    media,
    unsubscribe,
    health,
    openapi,
    widget,
)

log = logging.getLogger("comments.app")


def create_app(settings: config.Config | None = None) -> Flask:
    settings = settings or config.load_or_exit(need_secret=True)
    settings.require_secret_key()
    app = Flask(__name__, static_folder=None)  # an API: no static files
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, DEBUG=settings.debug, SETTINGS=settings)
    app.json = OrjsonProvider(app)
    app.extensions["comments_db"] = CommentDatabase(
        settings.require_database_url(),
        pool_size=settings.db_pool_size,
        connect_timeout=settings.db_connect_timeout,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        pool_timeout=settings.db_pool_timeout,
        media_base=media_base(settings),
        replica_url=settings.database_replica_url,
        replica_max_lag=settings.replica_max_lag_seconds,
    )
    if settings.media_bucket:
        app.extensions["object_store"] = ObjectStore(settings)
        app.extensions["upload_slots"] = storage.upload_slots(settings.threads)
    else:
        log.info("images are off: set MEDIA_BUCKET (and the AWS_* variables of its store) to accept them")
    app.extensions["schema_versions"] = set(migrate.available())
    # "/comments//1" must not be "fixed" by a redirect built from the client's Host header.
    app.url_map.merge_slashes = False
    app.url_map.converters["id"] = IdConverter
    errors.register(app)
    middleware.register(app, settings.cors_origins, settings.trusted_proxies)
    for feature in FEATURES:
        app.register_blueprint(feature.blueprint)
    # The public reads are answered before Flask (api/comments.py)...
    app.wsgi_app = comments.ReadsFirst(app.wsgi_app, app.extensions["comments_db"], settings)
    if settings.trusted_proxies:
        # ...but after this: only the last N hops of X-Forwarded-For/-Proto were written by our own proxies.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=0, x_port=0, x_prefix=0)
    if not settings.admin_token:
        log.info("admin API is off: set ADMIN_TOKEN (at least 32 characters) to turn it on")
    return app


def media_base(settings: config.Config) -> str:
    """Where image URLs point: straight at a CDN or public bucket, or at this API's redirect."""
    if settings.media_public_url:
        return f"{settings.media_public_url}/"
    return f"{settings.public_url}/media/"


class IdConverter(BaseConverter):
    """A comment id in a path: ASCII digits only (werkzeug's int also takes full-width digits).

    Digits that are no valid id (0, or past bigint) become 0, which names no comment, so the
    view answers 404. (Refusing them here would make werkzeug answer 405 for some methods.)"""

    regex = ID_IN_PATH

    def to_python(self, value: str) -> int:
        return parse_id(value) or 0

    def to_url(self, value: int) -> str:
        return str(value)


@functools.cache
def _wsgi_app() -> Flask:
    return create_app()


def __getattr__(name: str):
    if name == "app":
        return _wsgi_app()
    raise AttributeError(name)
