"""What happens around every request: request ids, the access log, security headers, CORS."""

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request
from flask.globals import request_ctx

from core import logs
from core.exceptions import InvalidInput
from web import auth

log = logging.getLogger("comments.access")

# An incoming X-Request-ID is kept only when it is short and cannot smuggle anything into logs.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# What a browser page may send and read across origins: the widget sends edit tokens
# (Authorization) and Idempotency-Key, and reads Retry-After to say when to try again (and a
# listing's ETag, for clients that revalidate themselves).
CORS_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Request-ID"
CORS_EXPOSED = "ETag, Location, Link, Retry-After, X-Request-ID"
# Where api/comments.py's ReadsFirst leaves an error it met before Flask, for Flask to answer,
# and the request's id, so that both log it under one.
FAILED_BEFORE_FLASK = "comments.failed_before_flask"
REQUEST_ID = "comments.request_id"


def register(app: Flask, cors_origins: tuple[str, ...], trusted_proxies: int = 0) -> None:
    cors = Cors(cors_origins)

    @app.before_request
    def start_request():
        g.started = time.perf_counter()
        g.request_id_token = logs.request_id.set(request_id_of(request.environ))
        if trusted_proxies and not auth.is_address(request.remote_addr):
            # Our own proxies only ever forward addresses: anything else was forged upstream.
            raise InvalidInput("The forwarded client address is not an IP address.", code="invalid_client_address")
        if (failed := request.environ.get(FAILED_BEFORE_FLASK)) is not None:
            raise failed  # web/errors.py answers it, as if the view had raised it
        if cors.on and _is_preflight():
            return Response(status=204)  # the CORS headers are added below
        return None

    @app.after_request
    def finish_request(response: Response) -> Response:
        headers = response.headers
        for name, value in every_answer_headers(logs.request_id.get() or "", cors, request.headers.get("Origin")):
            if name == "Vary":
                headers.add(name, value)  # beside any Vary the view set
            else:
                headers[name] = value
        if cors.on and _is_preflight() and cors.allows(request.headers.get("Origin")):
            _add_preflight(response)
        duration_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        status, size = response.status_code, response.calculate_content_length() or 0
        log_request(request.method, request.path, status, duration_ms, size, request.remote_addr)
        return response

    @app.teardown_request
    def forget_request_id(error):
        if "request_id_token" in g:
            logs.request_id.reset(g.request_id_token)


class Cors:
    """Which origins may read answers across origins (CORS_ORIGINS)."""

    def __init__(self, origins: tuple[str, ...]):
        self.on = bool(origins)
        self.allow_any = "*" in origins
        self.origins = frozenset(origins)

    def allows(self, origin: str | None) -> bool:
        return bool(origin) and (self.allow_any or origin in self.origins)


def request_id_of(environ: dict) -> str:
    """The request's id: the client's X-Request-ID when it is safe to log, else a new one; the
    same one whoever asks (ReadsFirst, then Flask when a read goes on to it)."""
    if (known := environ.get(REQUEST_ID)) is None:
        incoming = environ.get("HTTP_X_REQUEST_ID")
        known = environ[REQUEST_ID] = incoming if incoming and SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    return known


def every_answer_headers(request_id: str, cors: Cors, origin: str | None) -> list[tuple[str, str]]:
    """What every answer carries, whoever sends it (Flask, or api/comments.py's ReadsFirst)."""
    headers = [("X-Request-ID", request_id), ("X-Content-Type-Options", "nosniff")]
    if cors.on:
        headers.append(("Vary", "Origin"))  # caches must not serve one origin's answer to another
        if cors.allows(origin):
            headers += [("Access-Control-Allow-Origin", "*" if cors.allow_any else origin)]
            headers += [("Access-Control-Expose-Headers", CORS_EXPOSED)]
    return headers


def _is_preflight() -> bool:
    """A CORS preflight for a real route (request.url_rule is None when no route matched)."""
    return (
        request.method == "OPTIONS"
        and "Access-Control-Request-Method" in request.headers
        and request.url_rule is not None
    )


def _add_preflight(response: Response) -> None:
    headers = response.headers
    methods = sorted(set(request_ctx.url_adapter.allowed_methods()) - {"HEAD"})  # all routes at this path
    headers["Access-Control-Allow-Methods"] = ", ".join(methods)
    headers["Access-Control-Allow-Headers"] = CORS_HEADERS
    headers["Access-Control-Max-Age"] = "600"


def log_request(method: str, path: str, status: int, duration_ms: float, size: int, remote_addr: str | None) -> None:
    """The access log: one line per request, with its request id (core/logs.py adds it)."""
    log.log(
        logging.ERROR if status >= 500 else logging.INFO,
        "request",
        extra={
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(duration_ms, 2),
            "bytes": size,
            "remote_addr": remote_addr,
        },
    )
