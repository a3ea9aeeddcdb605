"""Reply e-mails: telling a comment's author that someone answered, and letting them stop it.

The worker sends one e-mail per published reply to an author who asked for them
(`notify_replies`), through SMTP_URL (smtp:// with STARTTLS when the server offers it, or
smtps://), from MAIL_FROM; without SMTP_URL it writes the e-mail to the log instead. Every
e-mail carries a one-click unsubscribe link (GET or POST /unsubscribe?token=...: a comment id
signed with SECRET_KEY, no login) and the List-Unsubscribe headers. Opening the link (GET)
changes nothing: it shows a page with a button, which POSTs; mail clients' one-click
unsubscribe (RFC 8058) POSTs directly. Link scanners that open every link unsubscribe no one.

Whether to send is decided when sending (RECIPIENT): the reply must still be published and its
parent's author still subscribed. A whole exchange with the SMTP server is bounded by
WEBHOOK_TIMEOUT (deadline.py), and header values are made single-line first.
"""

import base64
import hashlib
import hmac
import html
import logging
import re
import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import quote, unquote, urlsplit

from flask import Blueprint, Response, current_app, jsonify, request

import deadline
from comment import parse_id
from db import database
from exceptions import InvalidInput, NotFound

log = logging.getLogger("comments.mail")
blueprint = Blueprint("mail", __name__)

UNSUBSCRIBE = "UPDATE comments SET notify_replies = false WHERE id = %s RETURNING id"
SUBSCRIBED = "SELECT notify_replies FROM comments WHERE id = %s"
# Whom to tell of reply $1, asked when sending: the reply is still public, and its parent's
# author still subscribed and still there.
RECIPIENT = """SELECT p.email, p.name, p.thread FROM comments r JOIN comments p ON p.id = r.parent_id
    WHERE r.id = %s AND r.status = 'published' AND p.notify_replies AND p.email IS NOT NULL"""
# Characters that end a header line, or would be refused in one: controls and Unicode's line
# and paragraph separators (U+2028, U+2029), the next-line control (U+0085) among them.
NOT_IN_A_HEADER = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body><main><h1>{title}</h1>{content}</main></body></html>
"""


def unsubscribe_token(secret_key: str, comment_id: int) -> str:
    signature = hmac.new(secret_key.encode(), f"unsubscribe:{comment_id}".encode(), hashlib.sha256).digest()
    return f"{comment_id}.{base64.urlsafe_b64encode(signature[:18]).decode()}"


def comment_of_token(secret_key: str, token: str) -> int | None:
    comment_id = parse_id(token.partition(".")[0])
    if comment_id is None or not hmac.compare_digest(unsubscribe_token(secret_key, comment_id), token):
        return None
    return comment_id


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


def reply_message(settings, recipient: tuple, reply: dict, parent_id: int) -> EmailMessage:
    email, name, thread = recipient
    token = quote(unsubscribe_token(settings.secret_key, parent_id))
    link = f"{settings.public_url}/unsubscribe?token={token}"
    page = f"{settings.site_url.rstrip('/')}/{thread.lstrip('/')}" if settings.site_url else None
    lines = [f"Hello {one_line(name)},", "", f"{one_line(reply['name'])} replied to your comment:", ""]
    lines += [reply["comment"], ""]
    if page:
        lines += [f"Read the conversation: {page}", ""]
    lines += ["You get this e-mail because you asked to hear of replies.", f"Stop these e-mails: {link}"]
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = email
    message["Subject"] = one_line(f"{reply['name']} replied to your comment")
    message["List-Unsubscribe"] = f"<{link}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content("\n".join(lines))
    escaped = "".join(f"<p>{html.escape(line)}</p>" if line else "" for line in lines)
    message.add_alternative(f"<html><body>{escaped}</body></html>", subtype="html")
    return message


def one_line(text: str) -> str:
    """Text fit for a header (or a greeting): what would break a line becomes a space."""
    return NOT_IN_A_HEADER.sub(" ", text).strip()


def send(settings, message: EmailMessage) -> None:
    """Send through SMTP_URL, or log it when there is none; raises OSError/SMTPException."""
    if not settings.smtp_url:
        log.info(
            "email",
            extra={
                "to": message["To"],
                "subject": message["Subject"],
                "body": message.get_body(("plain",)).get_content(),
            },
        )
        return
    url = urlsplit(settings.smtp_url)
    secure = url.scheme == "smtps"
    port = url.port or (465 if secure else 25)
    timeout = settings.webhook_timeout
    # The system's trusted certificates (OpenSSL's SSL_CERT_FILE, if set, names others).
    context = ssl.create_default_context()
    server = None

    def current_socket():
        return server.sock if server else None

    with deadline.within(timeout, current_socket):
        if secure:
            server = smtplib.SMTP_SSL(url.hostname, port, timeout=timeout, context=context)
        else:
            server = smtplib.SMTP(url.hostname, port, timeout=timeout)
        with server:
            if not secure:
                server.ehlo()
                if server.has_extn("starttls"):
                    server.starttls(context=context)
                    server.ehlo()
            if url.username:
                server.login(unquote(url.username), unquote(url.password or ""))
            server.send_message(message)


def recipient_of(comments, reply_id: int):
    """(email, name, thread) of the author to tell of this reply, from the worker's own database
    handle; None if the reply is no longer public or nobody is to be told."""
    return comments.query(RECIPIENT, (reply_id,), one=True)
