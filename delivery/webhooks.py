"""Delivering one event to one webhook URL: the signed POST, and what its answer means.

A receiver verifies X-Comments-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>",
keyed with WEBHOOK_SECRET>, where <timestamp> is X-Comments-Timestamp (docs/webhooks-and-email.md).
2xx is success; network errors, timeouts, 429 and 5xx are worth retrying (retry_delay); anything else (other
4xx, and 3xx: redirects are never followed) is final. URLs come only from the operator's
WEBHOOK_URLS, never from request data.
"""

import base64
import hashlib
import hmac
import http.client
import random
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

import orjson

from delivery import deadline


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


# How long to wait before each retry, as multiples of WEBHOOK_BACKOFF_SECONDS (5 s by default:
# 5 s, 30 s, 5 min, 30 min, 2 h, then every 5 h). A receiver that blinked gets its event within
# seconds; one that is down for long is not hammered; ten attempts span about a day (22.6 h).
RETRY_STEPS = (1, 6, 60, 360, 1440, 3600)


def retry_delay(attempts: int, first: float) -> float:
    """Seconds until the next attempt after `attempts` failed ones, with ±20% jitter so that
    deliveries that failed together do not all come back at once."""
    step = RETRY_STEPS[min(attempts, len(RETRY_STEPS)) - 1]
    return first * step * random.uniform(0.8, 1.2)


def safe_url(destination: str) -> str:
    """A destination as logs and operators see it: no credentials, path or query (which may
    carry a token)."""
    if destination == "email":
        return destination
    parts = urlsplit(destination)
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{host}"


def post(url: str, event: Event, secret: str, timeout: float) -> Outcome:
    """One signed POST, the whole of it (connecting, sending, the answer) within `timeout`."""
    body, timestamp = event.body(), str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "comments-api-webhooks",
        "X-Comments-Event-Id": event.event_id,
        "X-Comments-Event-Type": event.type,
        "X-Comments-Timestamp": timestamp,
        "X-Comments-Signature": sign(secret, timestamp, body),
    }
    parts = urlsplit(url)
    connection_type = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_type(parts.hostname, parts.port, timeout=timeout)
    target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    if parts.username is not None:  # credentials in the URL: Basic authentication, as urllib does
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Authorization"] = f"Basic {base64.b64encode(credentials).decode()}"
    try:
        with deadline.within(timeout, lambda: connection.sock):
            connection.request("POST", target, body=body, headers=headers)
            response = connection.getresponse()
            response.read(65536)
            status = response.status
    except (OSError, ValueError, http.client.HTTPException) as error:  # refused, reset, timed out, cut off
        return Outcome("retry", f"{type(error).__name__}: {error}"[:300])
    finally:
        connection.close()
    if 200 <= status < 300:
        return Outcome("delivered", str(status))
    # Redirects are never followed: a 3xx is a final answer, as other 4xx are.
    return Outcome("retry" if status == 429 or status >= 500 else "failed", f"HTTP {status}")
