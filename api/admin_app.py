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
import secrets
from contextlib import suppress
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, send_from_directory, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from api import moderation, moderators
from core.exceptions import CommentNotFound, Conflict, RateLimited
from db import database
from store import rate_limits
from web import auth

HERE = Path(__file__).parent / "admin"
blueprint = Blueprint("admin_app", __name__, template_folder=str(HERE))
log = logging.getLogger("comments.admin_app")

COOKIE = "comments_admin"
SIGN_IN_LIMIT = (10, 900)  # failed sign-ins per client: 10 in 15 minutes, then one per 90 s
POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
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
BLOCKED = """SELECT greatest(tat, now()) + make_interval(secs => %s) - make_interval(secs => %s) > now()
    FROM post_limits WHERE client = %s"""
COLUMNS = """c.id, c.thread, c.name, c.comment, c.status,
    to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS created_at,
    left(p.comment, 80) AS parent_words"""
PENDING = f"""SELECT {COLUMNS} FROM comments c LEFT JOIN comments p ON p.id = c.parent_id
    WHERE c.status = 'pending' ORDER BY c.txid, c.created_at, c.id LIMIT {PAGE}"""
PENDING_COUNT = "SELECT count(*) FROM comments WHERE status = 'pending'"
RECENT = f"""SELECT {COLUMNS} FROM comments c LEFT JOIN comments p ON p.id = c.parent_id
    ORDER BY c.txid DESC, c.created_at DESC, c.id DESC LIMIT {PAGE}"""
FIELDS = ("id", "thread", "name", "comment", "status", "created_at", "parent_words")


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
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["X-Frame-Options"] = "DENY"
    # Not no-referrer: with it, browsers send "Origin: null" on the app's own forms.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/admin")
def queue():
    if g.moderator is None:
        return _page("sign_in.html")
    (pending_count,) = database().query(PENDING_COUNT, one=True)
    return _page(
        "queue.html",
        pending=_comments(PENDING),
        recent=_comments(RECENT),
        pending_count=pending_count,
        site_url=(current_app.config["SETTINGS"].site_url or "").rstrip("/"),
        notice=request.args.get("done"),
    )


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
    if g.moderator is None:
        return _page("sign_in.html", 401, notice="Your session has ended; sign in again.")
    action = request.form.get("action")
    if not _csrf_ok() or action not in ACTIONS:
        return _page("sign_in.html", 403, notice="That form is out of date; nothing was done.")
    try:
        if action == "erase":
            moderation.erase_for_good(comment_id)
        else:
            moderation.set_status(comment_id, action)
        done = f"Comment {comment_id} {ACTIONS[action]}."
    except (CommentNotFound, Conflict):
        done = f"Comment {comment_id} was deleted meanwhile; nothing was done."
    return redirect(url_for("admin_app.queue", done=done), 303)


@blueprint.get("/admin/app.css")
def stylesheet():
    return send_from_directory(HERE, "admin.css", mimetype="text/css", max_age=300)


def _page(template: str, status: int = 200, **context) -> tuple[str, int]:
    csrf = _csrf_token(g.session_token) if g.get("moderator") else ""
    return render_template(template, moderator=g.get("moderator"), csrf=csrf, **context), status


def _comments(sql: str) -> list[dict]:
    return [dict(zip(FIELDS, row, strict=True)) for row in database().query(sql)]


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
    found = database().query(BLOCKED, (interval, period, client), one=True)
    return bool(found and found[0])
