"""The admin web app at /admin (first part): sign in with a moderator's secret, see the queue,
approve, reject and delete.

Served by Flask from templates (api/admin/), with no script at all: every action is a form
that POSTs and comes back to the page, so it works with any browser and keyboard, needs no
build step, and leaves nothing for an injected script to use. The JSON admin API stays
bearer-only; the session cookie opens these pages alone.

- Sign-in sets a session cookie (HttpOnly, SameSite=Strict, Secure when PUBLIC_URL is https,
  path /admin), a random token signed with SECRET_KEY, expiring after ADMIN_SESSION_HOURS; the
  server keeps only its hash (admin_sessions), so "Sign out" ends it there too. Failed sign-ins
  cost the client a share of a small limit (post_limits, keyed apart from posts) and are logged;
  the answer never says whether an account exists.
- Every POST must come from this origin (Origin) and carry the session's CSRF token.
- Every page: a Content-Security-Policy with nothing but this origin's stylesheet and forms,
  no framing, no caching.
"""

import hashlib
import hmac
import logging
import re
import secrets
from contextlib import suppress
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, send_from_directory, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from api import media, moderation, moderators, people
from comment import STATUSES, Position, parse_id
from core.exceptions import CommentNotFound, Conflict, NotFound, RateLimited
from db import database
from delivery import webhooks
from store import outbox, rate_limits
from web import auth, payload

HERE = Path(__file__).parent / "admin"
blueprint = Blueprint("admin_app", __name__, template_folder=str(HERE))
log = logging.getLogger("comments.admin_app")

COOKIE = "comments_admin"
SIGN_IN_LIMIT = (10, 900)  # failed sign-ins per client: 10 in 15 minutes, then one per 90 s
# img-src: this origin and the object store its image redirects lead to (api/media.py).
POLICY = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src {images};"
    " form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE = 50  # comments in each list
ACTIONS = {"published": "approved", "rejected": "rejected", "erase": "deleted"}

START_SESSION = """INSERT INTO admin_sessions (token_hash, moderator, expires_at)
    VALUES (%s, %s, now() + make_interval(hours => %s))"""
FORGET_EXPIRED = "DELETE FROM admin_sessions WHERE expires_at < now()"
END_SESSION = "DELETE FROM admin_sessions WHERE token_hash = %s"
# A session is valid while it has not expired and its account still exists.
SESSION = """SELECT s.moderator FROM admin_sessions s WHERE s.token_hash = %s AND s.expires_at > now()
    AND (s.moderator = 'admin' OR EXISTS (SELECT 1 FROM moderators m WHERE m.name = s.moderator))"""
COLUMNS = """c.id, c.thread, c.name, c.comment, c.status,
    to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at,
    left(p.comment, 80) AS parent_words, c.client, c.txid, c.held_by, c.images"""
PENDING = f"""SELECT {COLUMNS} FROM comments c LEFT JOIN comments p ON p.id = c.parent_id
    WHERE c.status = 'pending' ORDER BY c.txid, c.created_at, c.id LIMIT {PAGE}"""
PENDING_COUNT = "SELECT count(*) FROM comments WHERE status = 'pending'"
LATEST = f"""SELECT {COLUMNS} FROM comments c LEFT JOIN comments p ON p.id = c.parent_id
    WHERE c.status <> 'pending' ORDER BY c.txid DESC, c.created_at DESC, c.id DESC LIMIT 20"""
# What text search looks at: the expression of comments_search_idx (migrations/0015).
SEARCHED = "to_tsvector('simple', coalesce(c.name, '') || ' ' || coalesce(c.comment, ''))"
# Newest first, keyset-paged like the admin API; the filters are placeholders that may be NULL.
LISTING = f"""SELECT {COLUMNS} FROM comments c LEFT JOIN comments p ON p.id = c.parent_id
    WHERE (%(status)s::text IS NULL OR c.status = %(status)s) AND (%(thread)s::text IS NULL OR c.thread = %(thread)s)
      AND (%(client)s::text IS NULL OR c.client = %(client)s)
      AND (%(q)s::text IS NULL OR {SEARCHED} @@ websearch_to_tsquery('simple', %(q)s))
      AND (%(txid)s::bigint IS NULL OR (c.txid, c.created_at, c.id) < (%(txid)s, %(created_at)s::timestamptz, %(id)s))
    ORDER BY c.txid DESC, c.created_at DESC, c.id DESC LIMIT {PAGE + 1}"""
# New comments per day over the last 30 days (comments_created_at_idx).
PER_DAY = """SELECT day::date, count(c.id)
    FROM generate_series(current_date - 29, current_date, interval '1 day') AS day
    LEFT JOIN comments c ON c.created_at >= day AND c.created_at < day + interval '1 day'
    GROUP BY day ORDER BY day"""
FAILED = """SELECT d.id, o.type, d.comment_id, d.destination, d.attempts, d.last_error
    FROM deliveries d JOIN outbox o ON o.id = d.event WHERE d.state = 'failed' ORDER BY d.id DESC LIMIT 100"""
FIELDS = (
    *("id", "thread", "name", "comment", "status", "created_at", "parent_words", "client", "txid", "held_by"),
    "images",
)
DELIVERY_FIELDS = ("id", "type", "comment_id", "destination", "attempts", "last_error")
CLIENT = re.compile(r"[0-9a-f]{32}")


@blueprint.before_request
def load_session():
    g.moderator = None
    token = _session_token()
    if token is not None:
        found = database().query(SESSION, (_hash(token),), one=True)
        if found and (found[0] != moderators.ADMIN or current_app.config["SETTINGS"].admin_token):
            moderators.act_as(found[0], token)
            g.session_token = token
    if request.method == "POST" and not _same_origin():
        return _page("sign_in.html", 403, notice="This form was sent from another site, so nothing was done.")
    return None


@blueprint.after_request
def lock_down(response: Response) -> Response:
    images = " ".join(media.image_sources(current_app.config["SETTINGS"]))
    response.headers["Content-Security-Policy"] = POLICY.format(images=images)
    response.headers["X-Frame-Options"] = "DENY"
    # Not no-referrer: with it, browsers send "Origin: null" on the app's own forms.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/admin")
def queue():
    if g.moderator is None:
        return _page("sign_in.html")
    settings = current_app.config["SETTINGS"]
    (pending_count,) = database().query(PENDING_COUNT, one=True)
    return _page(
        "queue.html",
        pending=_comments(PENDING, ()),
        latest=_comments(LATEST, ()),
        pending_count=pending_count,
        per_day=_per_day(),
        mode=settings.moderation,
        rate_limit=_rate(settings.rate_limit_posts),
        notice=request.args.get("done"),
    )


@blueprint.get("/admin/list")
def listing():
    if g.moderator is None:
        return _page("sign_in.html")
    filters = _filters()
    after = (
        payload.decode_cursor(request.args.get("cursor", ""), newest_first=True) if "cursor" in request.args else None
    )
    beyond = (
        {"txid": after.txid, "created_at": after.created_at, "id": after.id}
        if after
        else dict.fromkeys(("txid", "created_at", "id"))
    )
    comments = _comments(LISTING, {"status": None, "thread": None, "client": None, "q": None, **filters, **beyond})
    more, comments = len(comments) > PAGE, comments[:PAGE]
    last = comments[-1] if comments else None
    next_cursor = payload.encode_cursor(Position(last["txid"], last["created_at"], last["id"])) if more else None
    return _page("list.html", comments=comments, filters=filters, statuses=STATUSES, next_cursor=next_cursor,
                 notice=request.args.get("done"))  # fmt: skip


@blueprint.get("/admin/deliveries")
def deliveries():
    if g.moderator is None:
        return _page("sign_in.html")
    failed = [dict(zip(DELIVERY_FIELDS, row, strict=True)) for row in database().query(FAILED)]
    for delivery in failed:
        delivery["destination"] = webhooks.safe_url(delivery["destination"])
    return _page("deliveries.html", failed=failed, notice=request.args.get("done"))


@blueprint.post("/admin/sign-in")
def sign_in():
    client = "admin-sign-in:" + auth.current_client()
    if _blocked(client):
        return _page("sign_in.html", 429, notice="Too many failed sign-ins from your address; try again later.")
    moderator = moderators.moderator_of(request.form.get("secret", ""))
    if moderator is None:
        log.warning("admin sign-in failed", extra={"client": auth.current_client()})
        with suppress(RateLimited):  # counted either way: the next attempt is refused before any check
            database().charge(client, SIGN_IN_LIMIT)
        return _page("sign_in.html", 401, notice="That secret opens nothing here.")
    token = secrets.token_urlsafe(32)
    hours = current_app.config["SETTINGS"].admin_session_hours
    database().query(FORGET_EXPIRED, rows=False)
    database().query(START_SESSION, (_hash(token), moderator, hours), rows=False)
    log.info("admin signed in", extra={"moderator": moderator})
    response = redirect(url_for("admin_app.queue"), 303)
    response.set_cookie(
        COOKIE, _signer().dumps(token), max_age=int(timedelta(hours=hours).total_seconds()), path="/admin",
        httponly=True, samesite="Strict", secure=_https(),
    )  # fmt: skip
    return response


@blueprint.post("/admin/sign-out")
def sign_out():
    if g.moderator is not None and _csrf_ok():
        database().query(END_SESSION, (_hash(g.session_token),), rows=False)
        log.info("admin signed out", extra={"moderator": g.moderator})
    response = redirect(url_for("admin_app.queue"), 303)
    response.delete_cookie(COOKIE, path="/admin", httponly=True, samesite="Strict", secure=_https())
    return response


@blueprint.post("/admin/comments/<id:comment_id>/act")
def act(comment_id: int):
    refused = _refuse_form()
    action = request.form.get("action")
    if refused or action not in ACTIONS:
        return refused or _page("sign_in.html", 403, notice="That form is out of date; nothing was done.")
    try:
        _apply(action, comment_id)
        done = f"Comment {comment_id} {ACTIONS[action]}."
    except (CommentNotFound, Conflict):
        done = f"Comment {comment_id} was deleted meanwhile; nothing was done."
    return redirect(url_for("admin_app.queue", done=done), 303)


@blueprint.post("/admin/clients/<client>/erase")
def erase_client(client: str):
    refused = _refuse_form()
    if refused:
        return refused
    if not CLIENT.fullmatch(client):
        return redirect(url_for("admin_app.queue", done="That is not a client pseudonym; nothing was done."), 303)
    erased = people.erase_person("client", client)
    return redirect(url_for("admin_app.queue", done=f"{_comments_word(erased)} of that client erased."), 303)


@blueprint.post("/admin/deliveries/<id:delivery_id>/retry")
def retry(delivery_id: int):
    refused = _refuse_form()
    if refused:
        return refused
    with database().transaction() as cursor:
        cursor.execute(outbox.RETRY_NOW, (delivery_id,))
        found = cursor.fetchall()
        cursor.execute(outbox.NOTIFY)
    done = f"Delivery {delivery_id} will be sent again." if found else f"Delivery {delivery_id} is not failed."
    return redirect(url_for("admin_app.deliveries", done=done), 303)


@blueprint.post("/admin/bulk")
def bulk():
    refused = _refuse_form()
    action = request.form.get("action")
    if refused or action not in ACTIONS:
        return refused or _page("sign_in.html", 403, notice="That form is out of date; nothing was done.")
    done = 0
    for comment_id in filter(None, map(parse_id, request.form.getlist("id")[:PAGE])):
        with suppress(CommentNotFound, Conflict):  # deleted meanwhile: nothing to do for that one
            _apply(action, comment_id)
            done += 1
    return redirect(url_for("admin_app.queue", done=f"{_comments_word(done)} {ACTIONS[action]}."), 303)


@blueprint.get("/admin/images/<key>")
def image(key: str):
    """A comment's image for a signed-in moderator, whatever the comment's status (as the admin
    API's /admin/media/<key>); to anyone else, nothing is here."""
    if g.moderator is None:
        raise NotFound()
    return media.redirect_to(key, media.IN_USE, "private, no-store")


@blueprint.get("/admin/app.css")
def stylesheet():
    return send_from_directory(HERE, "admin.css", mimetype="text/css", max_age=300)


@blueprint.get("/admin/app.js")
def script():
    return send_from_directory(HERE, "app.js", mimetype="text/javascript", max_age=300)


def _comments_word(count: int) -> str:
    return f"{count} comment{'' if count == 1 else 's'}"


def _apply(action: str, comment_id: int) -> None:
    if action == "erase":
        moderation.erase_for_good(comment_id)
    else:
        moderation.set_status(comment_id, action)


def _refuse_form():
    """The page to answer instead of acting: not signed in, or a form without this session's token."""
    if g.moderator is None:
        return _page("sign_in.html", 401, notice="Your session has ended; sign in again.")
    if not _csrf_ok():
        return _page("sign_in.html", 403, notice="That form is out of date; nothing was done.")
    return None


def _filters() -> dict:
    """The listing's filters that were given (status, thread, client, words); the others are left out."""
    given = {key: request.args.get(key, "").strip()[:200] for key in ("status", "thread", "client", "q")}
    if given["status"] not in STATUSES:
        given["status"] = ""
    if not CLIENT.fullmatch(given["client"]):
        given["client"] = ""
    return {key: value for key, value in given.items() if value}


def _per_day() -> list[dict]:
    days = [{"date": day.isoformat(), "count": count} for day, count in database().query(PER_DAY)]
    highest = max((day["count"] for day in days), default=0) or 1
    for day in days:
        day["height"] = round(58 * day["count"] / highest) + (1 if day["count"] else 0)
    return days


def _rate(limit: tuple[int, int] | None) -> str | None:
    if limit is None:
        return None
    posts, seconds = limit
    return f"{posts} per {seconds} s"


def _page(template: str, status: int = 200, **context) -> tuple[str, int]:
    csrf = _csrf_token(g.session_token) if g.get("moderator") else ""
    site_url = (current_app.config["SETTINGS"].site_url or "").rstrip("/")
    return render_template(template, moderator=g.get("moderator"), csrf=csrf, site_url=site_url, **context), status


def _comments(sql: str, params) -> list[dict]:
    return [dict(zip(FIELDS, row, strict=True)) for row in database().query(sql, params)]


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SETTINGS"].secret_key, salt="admin-session")


def _session_token() -> str | None:
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    try:
        token = _signer().loads(cookie)
    except BadSignature:
        return None
    return token if isinstance(token, str) else None


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _csrf_token(session_token: str) -> str:
    key = current_app.config["SETTINGS"].secret_key.encode()
    return hmac.new(key, f"admin-csrf:{session_token}".encode(), hashlib.sha256).hexdigest()[:32]


def _csrf_ok() -> bool:
    return hmac.compare_digest(request.form.get("csrf", ""), _csrf_token(g.session_token))


def _same_origin() -> bool:
    """A POST's Origin is this service's (PUBLIC_URL's, or the host it was asked on)."""
    origin = request.headers.get("Origin")
    public = urlsplit(current_app.config["SETTINGS"].public_url)
    return origin in (f"{public.scheme}://{public.netloc}", request.host_url.rstrip("/"))


def _https() -> bool:
    return current_app.config["SETTINGS"].public_url.startswith("https://")


def _blocked(client: str) -> bool:
    interval, period = rate_limits.interval_and_period(SIGN_IN_LIMIT)
    found = database().query(rate_limits.BLOCKED, (interval, period, client), one=True)
    return bool(found and found[0])
