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


def register(app: Flask, cors_origins: tuple[str, ...], trusted_proxies: int = 0) -> None:
    cors_on = bool(cors_origins)
    allow_any = "*" in cors_origins
    allowed = frozenset(cors_origins)

    @app.before_request
    def start_request():
        g.started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        g.request_id_token = logs.request_id.set(request_id)
        if trusted_proxies and not auth.is_address(request.remote_addr):
            # Our own proxies only ever forward addresses: anything else was forged upstream.
            raise InvalidInput("The forwarded client address is not an IP address.", code="invalid_client_address")
        if cors_on and _is_preflight():
            return Response(status=204)  # the CORS headers are added below
        return None

    @app.after_request
    def finish_request(response: Response) -> Response:
        headers = response.headers
        headers["X-Request-ID"] = logs.request_id.get() or ""
        headers["X-Content-Type-Options"] = "nosniff"
        if cors_on:
            headers.add("Vary", "Origin")  # caches must not serve one origin's answer to another
            origin = request.headers.get("Origin")
            if origin and (allow_any or origin in allowed):
                _add_cors(response, origin, allow_any)
        _log_request(response)
        return response

    @app.teardown_request
    def forget_request_id(error):
        if "request_id_token" in g:
            logs.request_id.reset(g.request_id_token)


def _is_preflight() -> bool:
    """A CORS preflight for a real route (request.url_rule is None when no route matched)."""
    return (
        request.method == "OPTIONS"
        and "Access-Control-Request-Method" in request.headers
        and request.url_rule is not None
    )


def _add_cors(response: Response, origin: str, allow_any: bool) -> None:
    headers = response.headers
    headers["Access-Control-Allow-Origin"] = "*" if allow_any else origin
    headers["Access-Control-Expose-Headers"] = CORS_EXPOSED
    if _is_preflight():
        methods = sorted(set(request_ctx.url_adapter.allowed_methods()) - {"HEAD"})  # all routes at this path
        headers["Access-Control-Allow-Methods"] = ", ".join(methods)
        headers["Access-Control-Allow-Headers"] = CORS_HEADERS
        headers["Access-Control-Max-Age"] = "600"


def _log_request(response: Response) -> None:
    duration_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    level = logging.ERROR if response.status_code >= 500 else logging.INFO
    log.log(
        level,
        "request",
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round(duration_ms, 2),
            "bytes": response.calculate_content_length() or 0,
            "remote_addr": request.remote_addr,
        },
    )
