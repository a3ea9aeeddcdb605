"""Reply e-mails: telling a comment's author that someone answered, and letting them stop it.

The worker sends one e-mail per published reply to an author who asked for them
(`notify_replies`), through SMTP_URL (smtp:// with STARTTLS when the server offers it, or
smtps://), from MAIL_FROM; without SMTP_URL it writes the e-mail to the log instead. Every
e-mail carries a one-click unsubscribe link (GET or POST /unsubscribe?token=...: a comment id
signed with SECRET_KEY, no login) and the List-Unsubscribe headers.
"""

import base64
import hashlib
import hmac
import html
import logging
import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import quote, unquote, urlsplit

from flask import Blueprint, current_app, jsonify, request

from comment import parse_id
from db import database
from exceptions import InvalidInput

log = logging.getLogger("comments.mail")
blueprint = Blueprint("mail", __name__)

UNSUBSCRIBE = "UPDATE comments SET notify_replies = false WHERE id = %s"
# The parent whose author is told: still subscribed, still there.
RECIPIENT = "SELECT email, name, thread FROM comments WHERE id = %s AND notify_replies AND email IS NOT NULL"


def unsubscribe_token(secret_key: str, comment_id: int) -> str:
    signature = hmac.new(secret_key.encode(), f"unsubscribe:{comment_id}".encode(), hashlib.sha256).digest()
    return f"{comment_id}.{base64.urlsafe_b64encode(signature[:18]).decode()}"


def comment_of_token(secret_key: str, token: str) -> int | None:
    comment_id = parse_id(token.partition(".")[0])
    if comment_id is None or not hmac.compare_digest(unsubscribe_token(secret_key, comment_id), token):
        return None
    return comment_id


@blueprint.route("/unsubscribe", methods=["GET", "POST"])
def unsubscribe():
    """GET from the link in the e-mail, POST from mail clients' one-click button (RFC 8058)."""
    token = request.args.get("token", "")
    comment_id = comment_of_token(current_app.config["SETTINGS"].secret_key, token) if token.isascii() else None
    if comment_id is None:
        raise InvalidInput(
            "This unsubscribe link is not valid.", code="invalid_token", fields={"token": "is not valid"}
        )
    database().query(UNSUBSCRIBE, (comment_id,), rows=False)
    return jsonify(status="unsubscribed", comment_id=comment_id)


def reply_message(settings, recipient: tuple, reply: dict, parent_id: int) -> EmailMessage:
    email, name, thread = recipient
    token = quote(unsubscribe_token(settings.secret_key, parent_id))
    link = f"{settings.public_url}/unsubscribe?token={token}"
    page = f"{settings.site_url.rstrip('/')}/{thread.lstrip('/')}" if settings.site_url else None
    lines = [f"Hello {name},", "", f"{reply['name']} replied to your comment:", "", reply["comment"], ""]
    if page:
        lines += [f"Read the conversation: {page}", ""]
    lines += ["You get this e-mail because you asked to hear of replies.", f"Stop these e-mails: {link}"]
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = email
    message["Subject"] = f"{reply['name']} replied to your comment"
    message["List-Unsubscribe"] = f"<{link}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content("\n".join(lines))
    escaped = "".join(f"<p>{html.escape(line)}</p>" if line else "" for line in lines)
    message.add_alternative(f"<html><body>{escaped}</body></html>", subtype="html")
    return message


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
    timeout = settings.webhook_timeout * 2
    with (smtplib.SMTP_SSL if secure else smtplib.SMTP)(url.hostname, port, timeout=timeout) as server:
        if not secure:
            server.ehlo()
            if server.has_extn("starttls"):
                server.starttls(context=ssl.create_default_context())
                server.ehlo()
        if url.username:
            server.login(unquote(url.username), unquote(url.password or ""))
        server.send_message(message)


def recipient_of(comments, parent_id: int):
    """(email, name, thread) of the author to tell, from the worker's own database handle."""
    return comments.query(RECIPIENT, (parent_id,), one=True)
