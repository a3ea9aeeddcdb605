"""Serving images: GET /media/{key} redirects to the object while a published comment shows it
(moderators reach any comment's images through /admin/media/{key}, api/moderation.py).

The object itself is never streamed through the API: a 302 to a presigned URL of the store (an
hour), or to MEDIA_PUBLIC_URL (a CDN or public bucket). How images are checked, stored and
collected is in media/.
"""

import re
from urllib.parse import urlsplit

from flask import Blueprint, current_app

from core.exceptions import NotFound
from db import database
from media.storage import object_store

blueprint = Blueprint("media", __name__)

KEY = re.compile(r"[0-9a-f]{64}\.(jpg|png|webp|gif)")
REDIRECT_CACHE = "public, max-age=600"  # well within the signed URL's hour
# Who may be sent to an object: anyone, if a published comment shows it; moderators
# (/admin/media/, api/moderation.py), if any comment uses it. A hidden comment's image is thus
# taken down with it.
SHOWN = """SELECT EXISTS (SELECT 1 FROM media m JOIN comment_media cm ON cm.media_id = m.id
    JOIN comments c ON c.id = cm.comment_id WHERE m.key = %s AND c.status = 'published')"""
IN_USE = """SELECT EXISTS (SELECT 1 FROM media m JOIN comment_media cm ON cm.media_id = m.id WHERE m.key = %s)"""


@blueprint.get("/media/<key>")
def serve(key: str):
    return redirect_to(key, SHOWN, REDIRECT_CACHE)


def redirect_to(key: str, allowed: str, cache_control: str):
    """302 to the object, if the query `allowed` finds the key may be served; else 404, the
    same as for a key that never existed."""
    store = object_store()
    if store is None or not KEY.fullmatch(key) or not database().query(allowed, (key,), one=True)[0]:
        raise NotFound()
    public_url = current_app.config["SETTINGS"].media_public_url
    target = f"{public_url}/{key}" if public_url else store.presigned_url(key)
    return "", 302, {"Location": target, "Cache-Control": cache_control}


def image_sources(settings) -> list[str]:
    """Where a page's images may load from, for its Content-Security-Policy: this origin, and
    the object store that /media/<key> redirects to (or MEDIA_PUBLIC_URL)."""
    sources = ["'self'"]
    if object_store() is not None:
        public = settings.media_public_url or settings.s3_public_endpoint
        if public:
            parts = urlsplit(public)
            sources.append(f"{parts.scheme}://{parts.netloc}")
        else:
            sources.append("https:")  # AWS's own bucket hosts
    return sources


def admin_base() -> str:
    """The URL prefix of images as moderators see them (moderation.py)."""
    return f"{current_app.config['SETTINGS'].public_url}/admin/media/"
