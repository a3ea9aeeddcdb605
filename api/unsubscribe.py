"""Unsubscribing from reply e-mails: the link in every e-mail (delivery/mail.py makes it).

Opening the link (GET) changes nothing: it shows a page with a button, which POSTs; mail
clients' one-click unsubscribe (RFC 8058) POSTs directly. Link scanners, which open every link,
unsubscribe no one. The token is the comment id signed with SECRET_KEY; a valid token for a
comment that no longer exists is a 404.
"""

import html

from flask import Blueprint, Response, current_app, jsonify, request

from core.exceptions import InvalidInput, NotFound
from db import database
from delivery.mail import comment_of_token

blueprint = Blueprint("unsubscribe", __name__)

UNSUBSCRIBE = "UPDATE comments SET notify_replies = false WHERE id = %s RETURNING id"
SUBSCRIBED = "SELECT notify_replies FROM comments WHERE id = %s"
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body><main><h1>{title}</h1>{content}</main></body></html>
"""


@blueprint.get("/unsubscribe")
def confirm_unsubscribe():
    """The link in the e-mail: a page with a button. Opening it changes nothing."""
    comment_id = _comment_of_request()
    if comment_id is None:
        raise NotFound("This unsubscribe link names no comment.", code="comment_not_found")
    token = html.escape(request.args["token"])
    content = (
        "<p>Stop e-mails about replies to your comment?</p>"
        f'<form method="post" action="/unsubscribe?token={token}"><button type="submit">Unsubscribe</button></form>'
    )
    return _page("Unsubscribe", content)


@blueprint.post("/unsubscribe")
def unsubscribe():
    """The page's button, or a mail client's one-click unsubscribe (RFC 8058)."""
    comment_id = _comment_of_request()
    if database().query(UNSUBSCRIBE, (comment_id,), one=True) is None:
        raise NotFound("This unsubscribe link names no comment.", code="comment_not_found")
    if request.accept_mimetypes.best_match(("application/json", "text/html")) == "text/html":
        return _page("Unsubscribed", "<p>You will get no more e-mails about replies to this comment.</p>")
    return jsonify(status="unsubscribed", comment_id=comment_id)


def _comment_of_request() -> int | None:
    """The comment a valid token names (None if it names none that exists, on GET); a token
    that is not valid is a 400."""
    token = request.args.get("token", "")
    comment_id = comment_of_token(current_app.config["SETTINGS"].secret_key, token) if token.isascii() else None
    if comment_id is None:
        raise InvalidInput(
            "This unsubscribe link is not valid.", code="invalid_token", fields={"token": "is not valid"}
        )
    if request.method == "GET" and database().query(SUBSCRIBED, (comment_id,), one=True) is None:
        return None
    return comment_id


def _page(title: str, content: str) -> Response:
    response = Response(PAGE.format(title=html.escape(title), content=content), mimetype="text/html")
    response.headers["Content-Security-Policy"] = "default-src 'none'; form-action 'self'; frame-ancestors 'none'"
    response.headers["Cache-Control"] = "no-store"
    return response
