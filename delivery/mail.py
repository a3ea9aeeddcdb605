"""Reply e-mails: telling a comment's author that someone answered, and letting them stop it.

The worker sends one e-mail per published reply to an author who asked for them
(`notify_replies`), through SMTP_URL (smtp:// with STARTTLS when the server offers it, or
smtps://), from MAIL_FROM; without SMTP_URL it writes the e-mail to the log instead. Every
e-mail carries a one-click unsubscribe link (GET or POST /unsubscribe?token=...: a comment id
signed with SECRET_KEY, no login; the route is api/unsubscribe.py) and the List-Unsubscribe
headers.

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

from comment import parse_id
from delivery import deadline

log = logging.getLogger("comments.mail")

# Whom to tell of reply $1, asked when sending: the reply is still public, and its parent's
# author still subscribed and still there.
RECIPIENT = """SELECT p.email, p.name, p.thread FROM comments r JOIN comments p ON p.id = r.parent_id
    WHERE r.id = %s AND r.status = 'published' AND p.notify_replies AND p.email IS NOT NULL"""
# Characters that end a header line, or would be refused in one: controls and Unicode's line
# and paragraph separators (U+2028, U+2029), the next-line control (U+0085) among them.
NOT_IN_A_HEADER = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def unsubscribe_token(secret_key: str, comment_id: int) -> str:
    signature = hmac.new(secret_key.encode(), f"unsubscribe:{comment_id}".encode(), hashlib.sha256).digest()
    return f"{comment_id}.{base64.urlsafe_b64encode(signature[:18]).decode()}"


def comment_of_token(secret_key: str, token: str) -> int | None:
    comment_id = parse_id(token.partition(".")[0])
    if comment_id is None or not hmac.compare_digest(unsubscribe_token(secret_key, comment_id), token):
        return None
    return comment_id


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
