"""Delivering one event to one webhook URL: the signed POST, and what its answer means.

A receiver verifies X-Comments-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>",
keyed with WEBHOOK_SECRET>, where <timestamp> is X-Comments-Timestamp (see the README).
2xx is success; network errors, timeouts, 429 and 5xx are worth retrying; anything else (other
4xx, and 3xx: redirects are never followed) is final. URLs come only from the operator's
WEBHOOK_URLS, never from request data.
"""

import hashlib
import hmac
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import orjson


@dataclass(frozen=True)
class Event:
    event_id: str
    type: str
    created_at: str
    comment: dict

    def body(self) -> bytes:
        return orjson.dumps(
            {"id": self.event_id, "type": self.type, "created_at": self.created_at, "comment": self.comment}
        )


@dataclass(frozen=True)
class Outcome:
    result: str  # "delivered", "retry" or "failed"
    detail: str = ""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the 3xx surfaces as an HTTPError: a final answer


_opener = urllib.request.build_opener(_NoRedirects)


def post(url: str, event: Event, secret: str, timeout: float) -> Outcome:
    body, timestamp = event.body(), str(int(time.time()))
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "comments-api-webhooks",
            "X-Comments-Event-Id": event.event_id,
            "X-Comments-Event-Type": event.type,
            "X-Comments-Timestamp": timestamp,
            "X-Comments-Signature": sign(secret, timestamp, body),
        },
    )
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(65536)
            return Outcome("delivered", str(response.status))
    except urllib.error.HTTPError as error:
        status = error.code
        retry = status == 429 or status >= 500
        return Outcome("retry" if retry else "failed", f"HTTP {status}")
    except (OSError, ValueError) as error:  # refused, reset, timed out, unresolvable, bad URL
        return Outcome("retry", f"{type(error).__name__}: {error}"[:300])
