"""Every error the service raises on purpose, in one place, with no HTTP or database imports.

Each class names a kind of failure; `code` is the stable identifier clients see and `message`
the sentence for people. web/errors.py is the one place that turns them into HTTP responses.
"""


class ServiceError(Exception):
    code = "error"
    message = "The request failed."

    def __init__(self, message: str | None = None, *, code: str | None = None, fields: dict[str, str] | None = None):
        self.message = message or self.message
        self.code = code or self.code
        self.fields = fields
        super().__init__(self.message)


# --- the client sent something wrong ---------------------------------------------------------


class InvalidInput(ServiceError):
    code = "bad_request"
    message = "The request could not be understood."


class ValidationError(InvalidInput):
    """Client input is invalid; `fields` maps each bad field to what is wrong with it."""

    code = "invalid_fields"
    message = "Some fields are invalid."

    def __init__(self, fields: dict[str, str]):
        super().__init__(fields=fields)


class ParentNotFound(InvalidInput):
    code = "parent_not_found"
    message = "The comment replied to does not exist in this thread."

    def __init__(self):
        super().__init__(fields={"parent_id": "names no comment in this thread"})


class InvalidImage(InvalidInput):
    """An image part that is not one clean JPEG, PNG, WebP or GIF within the limits."""

    code = "invalid_image"
    message = "An image could not be accepted."

    def __init__(self, part: str, problem: str):
        super().__init__(f"{part} {problem}.", fields={part: problem})


class ImagesDisabled(InvalidInput):
    code = "images_disabled"
    message = "This service does not accept images."


class Unauthorized(ServiceError):
    """No credentials, malformed ones, or wrong ones: all refused alike."""

    code = "invalid_token"
    message = "A valid bearer token is required."


class Forbidden(ServiceError):
    code = "forbidden"
    message = "This is not allowed."


class Conflict(ServiceError):
    code = "conflict"
    message = "The request conflicts with the current state."


class IdempotencyKeyReused(ServiceError):
    code = "idempotency_key_reused"
    message = "This Idempotency-Key was used for a different request."


class RateLimited(ServiceError):
    code = "rate_limited"
    message = "Too many comments from this address; try again later."

    def __init__(self, retry_after: int):
        super().__init__()
        self.retry_after = retry_after


class NotFound(ServiceError):
    code = "not_found"
    message = "There is nothing at this address."


class CommentNotFound(NotFound):
    code = "comment_not_found"

    def __init__(self, comment_id: int):
        super().__init__(f"There is no comment {comment_id}.")


class BodyTooLarge(ServiceError):
    code = "body_too_large"
    message = "The request body is larger than this service accepts."


class UnsupportedMediaType(ServiceError):
    code = "unsupported_media_type"
    message = "Send application/json, application/x-www-form-urlencoded or multipart/form-data."


# --- the service cannot answer right now --------------------------------------------------------


class Unavailable(ServiceError):
    """Temporary: the client should retry after `retry_after` seconds."""

    retry_after = 1


class DatabaseUnavailable(Unavailable):
    """The database could not be reached, did not answer in time, or cannot take writes."""

    code = "database_unavailable"
    message = "The database is unavailable; try again shortly."


class SchemaNotReady(Unavailable):
    """The tables the statements need are missing: migrations have not run."""

    code = "schema_outdated"
    message = "The database schema is not migrated: run migrate."


class DatabaseMisconfigured(Unavailable):
    """The database can be reached but is set up so that the service cannot use it safely."""

    code = "database_misconfigured"
    message = "The database is misconfigured."


class Busy(Unavailable):
    """This process is doing as much of some costly work as it allows itself at once."""

    code = "busy"
    message = "The service is busy; try again in a moment."
    retry_after = 2


class StorageUnavailable(Unavailable):
    """The object store could not be reached or did not answer in time."""

    code = "storage_unavailable"
    message = "Images cannot be stored right now; try again shortly, or post without images."
