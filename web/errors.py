"""The one place where errors become responses.

Every non-2xx answer is JSON: {"error": sentence, "code": stable_snake_case[, "fields": {...}]}.
Views raise the domain errors of core/exceptions.py and never build error responses themselves.
"""

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from core import exceptions as err

log = logging.getLogger("comments.errors")

STATUS = {
    err.InvalidInput: 400,
    err.Unauthorized: 401,
    err.Forbidden: 403,
    err.NotFound: 404,
    err.Conflict: 409,
    err.BodyTooLarge: 413,
    err.UnsupportedMediaType: 415,
    err.IdempotencyKeyReused: 422,
    err.RateLimited: 429,
    err.Unavailable: 503,
}

# Werkzeug's own HTTP errors (unknown paths, wrong methods), renamed to stable codes and sentences.
HTTP_ERRORS = {
    400: ("bad_request", "The request could not be understood."),
    404: (err.NotFound.code, err.NotFound.message),
    405: ("method_not_allowed", "This address does not accept that method."),
    413: (err.BodyTooLarge.code, err.BodyTooLarge.message),
}


def status_of(error: err.ServiceError) -> int:
    return next((STATUS[kind] for kind in type(error).__mro__ if kind in STATUS), 500)


def error_response(status: int, code: str, message: str, fields: dict[str, str] | None = None):
    body = {"error": message, "code": code}
    if fields:
        body["fields"] = fields
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def register(app: Flask) -> None:
    @app.errorhandler(err.ServiceError)
    def service_error(error: err.ServiceError):
        response = error_response(status_of(error), error.code, error.message, error.fields)
        if isinstance(error, err.Unavailable):
            log.warning("unavailable", extra={"code": error.code, "reason": str(error.__cause__ or error)})
        if isinstance(error, err.Unavailable | err.RateLimited):
            response.headers["Retry-After"] = str(error.retry_after)
        if isinstance(error, err.Unauthorized):
            response.headers["WWW-Authenticate"] = 'Bearer realm="comments"'
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        status = error.code or 500
        code, message = HTTP_ERRORS.get(status, (_snake(error.name), error.description or error.name))
        response = error_response(status, code, message)
        if status == 405 and error.valid_methods:  # HTTP requires Allow on a 405
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal_error", "Something went wrong on our side.")


def _snake(name: str) -> str:
    return name.lower().replace(" ", "_").replace("-", "_").replace("'", "")
