"""The embeddable comment widget: /embed.js, the files it loads, its settings, and a demo page.

The same widget is served one of two ways. When widget/dist has been built (`npm ci && npm run
build`; the Docker image does it in a node stage) the esbuild bundle is served; otherwise the
ES-module source in widget/src, which browsers run as it is, so `pipenv run dev` needs no Node.
"""

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, render_template, request, send_from_directory

import config
from api.media import image_sources
from comment import FIELD_LIMITS
from core.exceptions import NotFound
from media import storage
from web import payload

WIDGET = Path(__file__).resolve().parent.parent / "widget"
blueprint = Blueprint("widget", __name__, template_folder=str(WIDGET))

ASSET_NAME = re.compile(r"[a-z][a-zA-Z0-9-]*\.(js|css|json)")
MIME_TYPES = {"js": "text/javascript", "css": "text/css", "json": "application/json"}  # Flask adds "; charset=utf-8"
CATALOGUE = re.compile(r"messages-([a-zA-Z-]+)\.json")  # a language's words (widget/src/i18n.js)
# /embed.js keeps its address from release to release, so caches may keep it only briefly;
# what it loads is addressed by content (?v=<digest>) and may be kept for a year.
EMBED_MAX_AGE = 300
SETTINGS_MAX_AGE = 60
YEAR = 365 * 86400


@dataclass(frozen=True)
class Assets:
    folder: Path
    embed: str  # the file served as /embed.js
    bundled: bool
    digests: dict[str, str]  # file name -> the start of its sha256

    def versioned(self, name: str) -> str:
        return f"widget/{name}?v={self.digests[name]}"


@functools.cache
def assets() -> Assets:
    """The built bundle if there is one, else the source; read once per process."""
    built = WIDGET / "dist"
    if (built / "embed.js").is_file():
        folder, embed, bundled = built, "embed.js", True
    else:
        folder, embed, bundled = WIDGET / "src", "dev-loader.js", False
    digests = {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        for path in folder.iterdir()
        if ASSET_NAME.fullmatch(path.name)
    }
    return Assets(folder, embed, bundled, digests)


@blueprint.get("/embed.js")
def embed_script():
    found = assets()
    response = _send(found, found.embed)
    if found.bundled:
        response.cache_control.public = True
        response.cache_control.max_age = EMBED_MAX_AGE
    else:
        response.cache_control.no_cache = True  # the source changes as it is edited
    return response


@blueprint.get("/widget/<name>")
def widget_file(name: str):
    found = assets()
    if name not in found.digests:
        raise NotFound()
    response = _send(found, name)
    if request.args.get("v") == found.digests[name]:
        response.cache_control.public = True
        response.cache_control.max_age = YEAR
        response.cache_control.immutable = True
    else:
        response.cache_control.no_cache = True  # revalidated with its ETag
    return response


@blueprint.get("/widget.json")
def widget_settings():
    """What the widget needs to know about this server before it draws its form."""
    settings = current_app.config["SETTINGS"]
    images = storage.image_limits()
    response = jsonify(
        stylesheet=assets().versioned("embed.css"),
        edit_window_seconds=settings.edit_window_seconds,
        images={"max_count": images.count, "max_bytes": images.per_image} if images.enabled else None,
        limits={"name": FIELD_LIMITS["name"], "comment": FIELD_LIMITS["comment"]},
        catalogues=catalogues(),
    )
    response.cache_control.public = True
    response.cache_control.max_age = SETTINGS_MAX_AGE
    _shareable(response)
    return response


def catalogues() -> dict[str, str]:
    """Language -> its catalogue's versioned address: fetched only by pages in that language."""
    found = assets()
    return {match[1]: found.versioned(name) for name in sorted(found.digests) if (match := CATALOGUE.fullmatch(name))}


@blueprint.get("/demo")
def demo_page():
    """A plain article with the widget under it, served under a strict Content-Security-Policy."""
    query = payload.read_demo_query(request)
    settings = current_app.config["SETTINGS"]
    html = render_template(
        "demo.html",
        query=query,
        stylesheet=assets().versioned("demo.css"),
        embed_url=f"{settings.public_url}/embed.js",
        feed_url=f"{settings.public_url}/feed.atom?{urlencode({'thread': query.thread})}",
    )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = demo_policy(settings)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.cache_control.no_cache = True
    return response


def demo_policy(settings: config.Config) -> str:
    """Scripts, styles and requests from this origin only; images also from the object store,
    where /media/<key> redirects (or from MEDIA_PUBLIC_URL). Trusted Types enforced: no string
    reaches an HTML sink but through the widget's own policy (widget/src/rich.js)."""
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        f"img-src {' '.join(image_sources(settings))}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
        "require-trusted-types-for 'script'; trusted-types comments-widget"
    )


def _send(found: Assets, name: str) -> Response:
    response = send_from_directory(found.folder, name, mimetype=MIME_TYPES[name.rsplit(".", 1)[1]], max_age=None)
    del response.headers["Content-Disposition"]  # werkzeug names the file; a script needs no name
    del response.headers["Cache-Control"]  # each route says how long its file may be kept
    _shareable(response)
    return response


def _shareable(response: Response) -> None:
    """Public files any page may load: as module scripts from another origin (which needs CORS),
    and under Cross-Origin-Embedder-Policy."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
