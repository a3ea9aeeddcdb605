"""Atom 1.0 feeds of published comments: `/feed.atom` (the latest site-wide) and
`/feed.atom?thread=T` (one thread), for feed readers and as a way to follow a thread.

Only published comments, newest first, at most FEED_SIZE. Each entry links to its page
(SITE_URL + thread, at the comment's anchor) when SITE_URL is set, else to the comment in the
API. The text is the comment as written, as Atom `text` content: a reader shows it, never runs
it. `ETag` (the body's hash) and `Last-Modified` (the newest change) answer revalidations with 304.
"""

import hashlib
from datetime import UTC, datetime
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from flask import Blueprint, Response, current_app, request

from comment import sql_rfc3339
from db import database
from web import payload

blueprint = Blueprint("feeds", __name__)

FEED_SIZE = 50
CHANGED = sql_rfc3339("coalesce(edited_at, created_at)")
# $1 twice: the thread, or NULL for the whole site.
ENTRIES = f"""SELECT id, thread, name, comment, html, {sql_rfc3339("created_at")}, {CHANGED}
    FROM comments WHERE status = 'published' AND (%s::text IS NULL OR thread = %s)
    ORDER BY txid DESC, comments.created_at DESC, id DESC LIMIT {FEED_SIZE}"""
# XML 1.0 cannot carry these two noncharacters, which our text rules let through.
NOT_IN_XML = str.maketrans({"\ufffe": "\ufffd", "\uffff": "\ufffd"})
MAX_AGE = 60  # seconds a reader or a proxy may keep a feed before asking again


@blueprint.get("/feed.atom")
def feed():
    thread = payload.read_feed_query(request)
    rows = database().read_query(ENTRIES, (thread, thread))
    body = render(current_app.config["SETTINGS"], thread, rows).encode()
    updated = max((row[-1] for row in rows), default=None)
    response = Response(body, mimetype="application/atom+xml")
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    if updated:
        response.last_modified = _moment(updated)
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE
    return response.make_conditional(request)


def render(settings, thread: str | None, rows: list[tuple]) -> str:
    base = settings.public_url
    self_link = f"{base}/feed.atom" + (f"?thread={quote(thread, safe='')}" if thread is not None else "")
    title = f"Comments on {thread}" if thread is not None else "Latest comments"
    updated = max((row[-1] for row in rows), default="1970-01-01T00:00:00.000000Z")
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<id>{escape(self_link)}</id><title>{_text(title)}</title><updated>{updated}</updated>",
        f'<link rel="self" type="application/atom+xml" href={quoteattr(self_link)}/>',
    ]
    if thread is not None and settings.site_url:
        parts.append(f'<link rel="alternate" type="text/html" href={quoteattr(_page(settings, thread))}/>')
    parts.append("<generator>comments-api</generator>")
    for comment_id, comment_thread, name, words, html, created, changed in rows:
        api_link = f"{base}/comments/{comment_id}"
        link = f"{_page(settings, comment_thread)}#comment-{comment_id}" if settings.site_url else api_link
        parts.append(
            f"<entry><id>{escape(api_link)}</id><title>{_text(f'{name} on {comment_thread}')}</title>"
            f"<author><name>{_text(name)}</name></author>"
            f"<published>{created}</published><updated>{changed}</updated>"
            f'<link rel="alternate" type="text/html" href={quoteattr(link)}/>'
            f"{_content(words, html)}</entry>"
        )
    parts.append("</feed>\n")
    return "\n".join(parts)


def _content(words: str, html: str | None) -> str:
    """The comment as its readers see it: its rendered, sanitised html (core/formatting.py),
    escaped as Atom's type="html" wants; its words as text if it has not been rendered yet."""
    if html is None:
        return f'<content type="text">{_text(words)}</content>'
    return f'<content type="html">{_text(html)}</content>'


def _page(settings, thread: str) -> str:
    return f"{settings.site_url.rstrip('/')}/{thread.lstrip('/')}"


def _text(value: str) -> str:
    return escape(value.translate(NOT_IN_XML))


def _moment(rfc3339: str) -> datetime:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).astimezone(UTC)
