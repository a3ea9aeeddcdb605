"""Every non-2xx answer is JSON: {"error": sentence, "code": stable_snake_case[, "fields": {...}]}."""

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from db import DatabaseUnavailable, ParentNotFound

log = logging.getLogger("comments.errors")

# Werkzeug's HTTP errors, renamed to stable codes and plain sentences.
HTTP_ERRORS = {
    400: ("bad_request", "The request could not be understood."),
    404: ("not_found", "There is nothing at this address."),
    405: ("method_not_allowed", "This address does not accept that method."),
    413: ("body_too_large", "The request body is larger than this service accepts."),
    415: ("unsupported_media_type", "Send application/json or application/x-www-form-urlencoded."),
}


class ApiError(Exception):
    """An error the client can act on; raised by views and turned into a JSON response."""

    def __init__(self, status: int, code: str, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields


def error_response(status: int, code: str, message: str, fields: dict[str, str] | None = None):
    body = {"error": message, "code": code}
    if fields:
        body["fields"] = fields
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def invalid_fields(fields: dict[str, str]) -> ApiError:
    return ApiError(400, "invalid_fields", "Some fields are invalid.", fields)


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        return error_response(error.status, error.code, error.message, error.fields)

    @app.errorhandler(ParentNotFound)
    def parent_not_found(error: ParentNotFound):
        fields = {"parent_id": "names no comment in this thread"}
        return error_response(400, "parent_not_found", "The comment replied to does not exist in this thread.", fields)

    @app.errorhandler(DatabaseUnavailable)
    def database_unavailable(error: DatabaseUnavailable):
        log.warning("database unavailable", extra={"reason": str(error)})
        response = error_response(503, "database_unavailable", "The database is unavailable; try again shortly.")
        response.headers["Retry-After"] = "1"
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
