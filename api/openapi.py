"""The OpenAPI 3.1 description of the HTTP contract, served at /openapi.json.

Tests validate real responses against these schemas, so the document cannot drift from the code.
"""

from flask import Blueprint

from comment import FIELD_LIMITS, MAX_BIGINT
from store import outbox
from web.payload import DEFAULT_LIMIT, LIMIT_RANGE

blueprint = Blueprint("openapi", __name__)

ID = {"type": "integer", "minimum": 1, "maximum": MAX_BIGINT}


def _text(limit: int, description: str) -> dict:
    return {"type": "string", "minLength": 1, "maxLength": limit, "description": description}


def _trimmed_text(limit: int, description: str) -> dict:
    # The limit applies after trimming surrounding whitespace, which JSON Schema cannot state:
    # a 101-character name with a leading space is valid, so no maxLength here.
    return {"type": "string", "minLength": 1, "description": f"{description} At most {limit} characters once trimmed."}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str, headers: dict | None = None) -> dict:
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _error(description: str) -> dict:
    return {"$ref": f"#/components/responses/{description}"}


_NEW_COMMENT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "comment"],
    "properties": {
        "thread": {**_text(FIELD_LIMITS["thread"], "What is being discussed."), "default": "default"},
        "parent_id": {"oneOf": [ID, {"type": "null"}], "description": "The comment replied to, in the same thread."},
        "name": _trimmed_text(FIELD_LIMITS["name"], "Author's name; surrounding whitespace is trimmed."),
        "comment": _trimmed_text(FIELD_LIMITS["comment"], "The text; newlines and tabs are allowed."),
        "website": {"type": "string", "description": "A honeypot: leave it empty (widgets hide it from people)."},
        "email": {
            "type": "string",
            "maxLength": 254,
            "description": "Where to send reply e-mails; never shown by public reads.",
        },
        "notify_replies": {"type": "boolean", "default": False, "description": "E-mail me replies (needs email)."},
    },
}

_EDIT = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "name": _NEW_COMMENT["properties"]["name"],
        "comment": _NEW_COMMENT["properties"]["comment"],
    },
}

_DECISION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["status"],
    "properties": {"status": {"type": "string", "enum": ["published", "rejected"]}},
}

_FORM_COMMENT = {
    **_NEW_COMMENT,
    "properties": {
        **_NEW_COMMENT["properties"],
        "parent_id": {"type": "string", "pattern": "^[0-9]{0,19}$"},
        "notify_replies": {"type": "string", "enum": ["true", "false", "on", "off", "1", "0", ""]},
    },
}

_MULTIPART_COMMENT = {
    **_FORM_COMMENT,
    "properties": {
        **_FORM_COMMENT["properties"],
        "image": {
            "type": "array",
            "maxItems": 4,
            "items": {"type": "string", "contentMediaType": "application/octet-stream"},
            "description": (
                "Up to 4 parts named image: JPEG, PNG, WebP or GIF (recognised by decoding, not by name or type),"
                " each at most MAX_IMAGE_BYTES and MAX_IMAGE_PIXELS. Stored re-encoded: metadata removed,"
                " EXIF orientation applied, stills at most 2048 pixels on their longer side. Answers 400"
                " images_disabled when the service has no MEDIA_BUCKET."
            ),
        },
    },
}


# The admin app's forms (api/admin_app.py): a redirect when done, the sign-in page when not
# signed in, a refusal page for another site's or an out-of-date form.
def _app_form(operation_id: str, summary: str, done: str, parameter: dict | None = None) -> dict:
    """A form's POST; `parameter`, the one in its path (an id that may name nothing: 404)."""
    responses = {
        "303": {"description": done},
        "401": _document("text/html", "Not signed in (the sign-in form)."),
        "403": _document("text/html", "Another site's form, or an out-of-date one: nothing was done."),
    }
    operation = {"operationId": operation_id, "summary": summary, "responses": responses}
    if parameter:
        operation["parameters"] = [{"in": "path", "required": True, **parameter}]
        if parameter["schema"]["type"] == "integer":
            responses["404"] = _error("NotFound")
    return {"post": operation}


# Exactly one of them.
_PERSON = [
    {"name": "email", "in": "query", "schema": {"type": "string", "format": "email", "maxLength": 254}},
    {"name": "client", "in": "query", "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}},
]
_MEDIA_KEY = {
    "name": "key",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9a-f]{64}[.](jpg|png|webp|gif)$"},
}
_MEDIA_REDIRECT = {
    "description": "To a signed URL of the store (valid for an hour), or to MEDIA_PUBLIC_URL.",
    "headers": {"Location": {"schema": {"type": "string"}}},
}
_IMAGE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url", "content_type", "width", "height", "bytes"],
    "properties": {
        "url": {
            "type": "string",
            "format": "uri",
            "description": (
                "GET /media/{key} (a 302 to a short-lived signed URL; only while a published comment shows the"
                " image), or MEDIA_PUBLIC_URL/{key}. In the admin API: GET /admin/media/{key}."
            ),
        },
        "content_type": {"type": "string", "enum": ["image/jpeg", "image/png", "image/webp", "image/gif"]},
        "width": {"type": "integer", "minimum": 1},
        "height": {"type": "integer", "minimum": 1},
        "bytes": {"type": "integer", "minimum": 1},
    },
}

_TIME = {"type": "string", "format": "date-time", "pattern": "Z$"}
_COMMENT_PROPERTIES = {
    "id": ID,
    "thread": _text(FIELD_LIMITS["thread"], "What is being discussed."),
    "parent_id": {"oneOf": [ID, {"type": "null"}]},
    "name": {
        "oneOf": [_text(FIELD_LIMITS["name"], "Author's name."), {"type": "null"}],
        "description": "null once deleted.",
    },
    "comment": {
        "oneOf": [_text(FIELD_LIMITS["comment"], "The text."), {"type": "null"}],
        "description": "As written (Markdown source). null once deleted.",
    },
    "html": {
        "type": ["string", "null"],
        "description": (
            "The text rendered from its Markdown subset to sanitised HTML: only p, br, em, strong, code, pre,"
            " blockquote, ul, ol (start), li and a (http, https or mailto href, rel=nofollow ugc noopener)."
            " null once deleted."
        ),
    },
    "status": {
        "type": "string",
        "enum": ["published", "pending", "rejected", "deleted"],
        "description": "The public sees published comments and deleted ones (tombstones that keep a thread's shape).",
    },
    "created_at": _TIME,
    "edited_at": {"oneOf": [_TIME, {"type": "null"}], "description": "When its author last changed it."},
    "images": {"type": "array", "maxItems": 4, "items": _ref("Image"), "description": "Empty when none."},
    "upvotes": {"type": "integer", "minimum": 0, "description": "Readers' +1 votes."},
    "downvotes": {"type": "integer", "minimum": 0, "description": "Readers' -1 votes."},
}
_COMMENT = {
    "type": "object",
    "additionalProperties": False,
    "required": list(_COMMENT_PROPERTIES),
    "properties": _COMMENT_PROPERTIES,
}
_CREATED_COMMENT = {
    **_COMMENT,
    "required": [*_COMMENT["required"], "edit_token"],
    "properties": {
        **_COMMENT_PROPERTIES,
        "edit_token": {
            "type": "string",
            "minLength": 22,
            "description": "Shown only here: send as `Authorization: Bearer` to edit or delete within the edit window.",
        },
    },
}
_ADMIN_COMMENT = {
    **_COMMENT,
    "required": [*_COMMENT["required"], "client"],
    "properties": {
        **_COMMENT_PROPERTIES,
        "client": {"type": ["string", "null"], "description": "A pseudonym (HMAC) of the sender's address."},
        "email": {"type": ["string", "null"]},
        "notify_replies": {"type": "boolean"},
    },
}

_DELIVERY = {
    "type": "object",
    "additionalProperties": False,
    "required": list(outbox.DELIVERY_FIELDS),
    "properties": {
        "id": {**ID, "description": "This delivery (one event to one destination): what /retry takes."},
        "event_id": {"type": "string", "format": "uuid", "description": "X-Comments-Event-Id."},
        "type": {
            "type": "string",
            "enum": list(outbox.EVENT_TYPES),
        },
        "comment_id": ID,
        "destination": {"type": "string", "description": "A webhook URL, or email."},
        "state": {"type": "string", "enum": ["pending", "delivered", "failed"]},
        "attempts": {"type": "integer", "minimum": 0},
        "last_error": {"type": ["string", "null"]},
        "created_at": _TIME,
        "next_attempt_at": _TIME,
    },
}

_PAGE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["comments", "next_cursor", "poll_cursor"],
    "properties": {
        "comments": {"type": "array", "items": _ref("Comment")},
        "next_cursor": {
            "type": ["string", "null"],
            "description": "Pass as `cursor` for the next page; null when there is nothing more yet.",
        },
        "poll_cursor": {
            "type": "string",
            "description": "Where this page ends, on every page: pass as `cursor` later to get only what came since.",
        },
    },
}

_ADMIN_PAGE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["comments", "next_cursor"],
    "properties": {
        "comments": {"type": "array", "items": _ref("AdminComment")},
        "next_cursor": {"type": ["string", "null"]},
    },
}

_COUNTS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["counts"],
    "properties": {"counts": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}},
}

_ERROR = {
    "type": "object",
    "additionalProperties": False,
    "required": ["error", "code"],
    "properties": {
        "error": {"type": "string", "description": "One sentence for a person."},
        "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$", "description": "Stable, for programs."},
        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}

_PARAMETERS = [
    {"name": "thread", "in": "query", "schema": _text(FIELD_LIMITS["thread"], "Only this thread.")},
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": LIMIT_RANGE[0], "maximum": LIMIT_RANGE[1], "default": DEFAULT_LIMIT},
    },
    {
        "name": "order",
        "in": "query",
        "schema": {"type": "string", "enum": ["oldest", "newest", "top"], "default": "oldest"},
        "description": (
            "top (needs `thread`): top-level comments best first (Wilson lower bound of their upvotes;"
            " ties oldest first), each followed by its replies oldest first; `limit` counts top-level comments."
        ),
    },
    {
        "name": "cursor",
        "in": "query",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$", "maxLength": 40},
        "description": "`next_cursor` or `poll_cursor` of an earlier page, as given.",
    },
    {
        "name": "If-None-Match",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "The ETag of this page as last read (with `thread`): 304 while the thread is unchanged.",
    },
]
_ETAG = {
    "ETag": {
        "required": False,
        "schema": {"type": "string"},
        "description": "With `thread`: names the thread's state and this page (absent for a moment after a change).",
    }
}

_COMMENT_ID = [{"name": "comment_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
_BEARER = [{"bearer": []}]
_UNSUBSCRIBE_TOKEN = {"name": "token", "in": "query", "required": True, "schema": {"type": "string"}}
_NO_CONTENT = {"description": "Done."}
_RETRY_AFTER = {"Retry-After": {"schema": {"type": "string"}, "description": "Seconds to wait."}}


_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Makes a retry safe: a repeat with the same key and request (within 24 hours, from the same"
        " address) answers the first answer again, with `Idempotent-Replayed: true`, and changes nothing."
    ),
    "schema": {"type": "string", "pattern": "^[\\x20-\\x7e]{1,255}$"},
}
_KEY_ERRORS = {"409": _error("Conflict"), "422": _error("KeyReused")}


def _document(media_type: str, description: str) -> dict:
    """A response that is a file of another type than JSON (a script, a page)."""
    return {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}


_WIDGET_SETTINGS = {
    "type": "object",
    "required": ["stylesheet", "edit_window_seconds", "images", "limits"],
    "properties": {
        "stylesheet": {"type": "string", "description": "Relative to this API's base URL."},
        "edit_window_seconds": {"type": "integer"},
        "images": {
            "oneOf": [
                {"type": "null", "description": "Images are off on this server."},
                {
                    "type": "object",
                    "required": ["max_count", "max_bytes"],
                    "properties": {"max_count": {"type": "integer"}, "max_bytes": {"type": "integer"}},
                },
            ]
        },
        "limits": {
            "type": "object",
            "required": ["name", "comment"],
            "properties": {"name": {"type": "integer"}, "comment": {"type": "integer"}},
        },
    },
}


_VOTE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["value"],
    "properties": {"value": {"enum": [1, -1, 0], "description": "0 takes the client's vote back."}},
}
_VOTED = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "value", "upvotes", "downvotes"],
    "properties": {
        "id": ID,
        "value": {"enum": [1, -1, 0]},
        "upvotes": {"type": "integer", "minimum": 0},
        "downvotes": {"type": "integer", "minimum": 0},
    },
}
_PREVIEW = {
    "type": "object",
    "additionalProperties": False,
    "required": ["comment"],
    "properties": {"comment": _trimmed_text(FIELD_LIMITS["comment"], "The words to render.")},
}
_PREVIEWED = {
    "type": "object",
    "additionalProperties": False,
    "required": ["html"],
    "properties": {"html": {"type": "string"}},
}


def _json_or_form_body(schema: dict) -> dict:
    return {
        "required": True,
        "content": {"application/json": {"schema": schema}, "application/x-www-form-urlencoded": {"schema": schema}},
    }


def _json_body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "comments-api", "version": "1.0.0", "description": "Post and list comments."},
    "paths": {
        "/comments": {
            "get": {
                "operationId": "listComments",
                "summary": "List comments, oldest first unless order=newest; keyset-paged.",
                "parameters": _PARAMETERS,
                "responses": {
                    "200": _json(
                        _ref("CommentPage"),
                        "A page of comments.",
                        {
                            "Link": {"schema": {"type": "string"}, "description": 'rel="next" when there is more.'},
                            **_ETAG,
                        },
                    ),
                    "304": {
                        "description": "The thread has not changed since the page with this ETag.",
                        "headers": _ETAG,
                    },
                    "400": _error("BadRequest"),
                    "503": _error("Unavailable"),
                },
            },
            "post": {
                "operationId": "createComment",
                "summary": "Post a comment; answered only after it is committed.",
                "parameters": [_IDEMPOTENCY_KEY],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": _ref("NewComment")},
                        "application/x-www-form-urlencoded": {"schema": _FORM_COMMENT},
                        "multipart/form-data": {"schema": _MULTIPART_COMMENT},
                    },
                },
                "responses": {
                    "201": _json(
                        _ref("CreatedComment"),
                        "Stored, as published or (status pending) waiting for a moderator.",
                        {"Location": {"schema": {"type": "string"}, "description": "/comments/{id}"}},
                    ),
                    "400": _error("BadRequest"),
                    "409": _error("Conflict"),
                    "413": _error("TooLarge"),
                    "415": _error("UnsupportedMediaType"),
                    "422": _error("KeyReused"),
                    "429": _error("RateLimited"),
                    "503": _error("Unavailable"),
                },
            },
        },
        "/comments/{comment_id}": {
            "get": {
                "operationId": "getComment",
                "summary": "One comment by id (published, or a tombstone).",
                "parameters": _COMMENT_ID,
                "responses": {
                    "200": _json(_ref("Comment"), "The comment."),
                    "404": _error("NotFound"),
                    "503": _error("Unavailable"),
                },
            },
            "patch": {
                "operationId": "editComment",
                "summary": "The author changes name and/or comment, with the edit token, within the edit window.",
                "parameters": [*_COMMENT_ID, _IDEMPOTENCY_KEY],
                "security": _BEARER,
                "requestBody": _json_body(_ref("Edit")),
                "responses": {
                    "200": _json(_ref("Comment"), "Changed; edited_at is set."),
                    "400": _error("BadRequest"),
                    "401": _error("Unauthorized"),
                    "403": _error("Forbidden"),
                    "404": _error("NotFound"),
                    "413": _error("TooLarge"),
                    "415": _error("UnsupportedMediaType"),
                    **_KEY_ERRORS,
                    "503": _error("Unavailable"),
                },
            },
            "delete": {
                "operationId": "deleteComment",
                "summary": "The author erases the comment (a tombstone if it has replies), within the edit window.",
                "parameters": [*_COMMENT_ID, _IDEMPOTENCY_KEY],
                "security": _BEARER,
                "responses": {
                    "204": _NO_CONTENT,
                    "400": _error("BadRequest"),
                    "401": _error("Unauthorized"),
                    "403": _error("Forbidden"),
                    "404": _error("NotFound"),
                    **_KEY_ERRORS,
                    "503": _error("Unavailable"),
                },
            },
        },
        "/comments/{comment_id}/vote": {
            "post": {
                "operationId": "voteOnComment",
                "summary": "A reader's vote on a published comment: 1, -1, or 0 to take it back; one per client.",
                "parameters": _COMMENT_ID,
                "requestBody": _json_or_form_body(_VOTE),
                "responses": {
                    "200": _json(_VOTED, "Counted (a repeat of the same vote changes nothing)."),
                    "400": _error("BadRequest"),
                    "403": _error("Forbidden"),
                    "404": _error("NotFound"),
                    "413": _error("TooLarge"),
                    "415": _error("UnsupportedMediaType"),
                    "429": _error("RateLimited"),
                    "503": _error("Unavailable"),
                },
            },
        },
        "/preview": {
            "post": {
                "operationId": "previewComment",
                "summary": "The `html` a comment with these words would have (Markdown subset, sanitised).",
                "requestBody": _json_body(_PREVIEW),
                "responses": {
                    "200": _json(_PREVIEWED, "Rendered; nothing is stored."),
                    "400": _error("BadRequest"),
                    "413": _error("TooLarge"),
                    "415": _error("UnsupportedMediaType"),
                    "429": _error("RateLimited"),
                    "503": _error("Unavailable"),
                },
            },
        },
        "/counts": {
            "get": {
                "operationId": "countComments",
                "summary": "Published comments per thread.",
                "parameters": [
                    {
                        "name": "thread",
                        "in": "query",
                        "required": True,
                        "style": "form",
                        "explode": True,
                        "schema": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 100,
                            "items": _text(FIELD_LIMITS["thread"], "A thread."),
                        },
                    }
                ],
                "responses": {
                    "200": _json(_ref("Counts"), "A count for every thread asked for."),
                    "400": _error("BadRequest"),
                    "503": _error("Unavailable"),
                },
            }
        },
        "/admin/comments": {
            "get": {
                "operationId": "adminListComments",
                "summary": "Every comment, newest first, of any status; keyset-paged.",
                "security": _BEARER,
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["published", "pending", "rejected", "deleted"]},
                    },
                    *[p for p in _PARAMETERS if p["name"] != "order"],
                ],
                "responses": {
                    "200": _json(
                        _ref("AdminCommentPage"),
                        "A page of comments.",
                        {
                            "Link": {"schema": {"type": "string"}, "description": 'rel="next" when there is more.'},
                            **_ETAG,
                        },
                    ),
                    "304": {
                        "description": "The thread has not changed since the page with this ETag.",
                        "headers": _ETAG,
                    },
                    "400": _error("BadRequest"),
                    "401": _error("Unauthorized"),
                    "503": _error("Unavailable"),
                },
            }
        },
        "/admin/events": {
            "get": {
                "operationId": "adminListEvents",
                "summary": "The outbox's deliveries in one state (default failed), newest first, at most 100.",
                "security": _BEARER,
                "parameters": [
                    {
                        "name": "state",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["pending", "delivered", "failed"], "default": "failed"},
                    }
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["events"],
                            "properties": {"events": {"type": "array", "items": _ref("Delivery")}},
                        },
                        "Deliveries.",
                    ),
                    "400": _error("BadRequest"),
                    "401": _error("Unauthorized"),
                    "503": _error("Unavailable"),
                },
            }
        },
        "/admin/events/{delivery_id}/retry": {
            "post": {
                "operationId": "adminRetryEvent",
                "summary": "Deliver a failed delivery again, with a fresh set of attempts.",
                "security": _BEARER,
                "parameters": [{"name": "delivery_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {
                    "204": _NO_CONTENT,
                    "401": _error("Unauthorized"),
                    "404": _error("NotFound"),
                    "503": _error("Unavailable"),
                },
            }
        },
        "/admin/people": {
            "get": {
                "operationId": "adminPersonComments",
                "summary": "Every comment one e-mail address (or client) wrote, as the export's JSON lines.",
                "security": _BEARER,
                "parameters": _PERSON,
                "responses": {
                    "200": {
                        "description": "A header line, then one line per comment (docs/import-export.md).",
                        "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                    },
                    "400": _error("BadRequest"),
                    "401": _error("Unauthorized"),
                    "503": _error("Unavailable"),
                },
            },
            "delete": {
                "operationId": "adminErasePerson",
                "summary": "Erase every comment of one e-mail address (or client); tombstones where replies hang.",
                "security": _BEARER,
                "parameters": _PERSON,
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["erased"],
                            "properties": {"erased": {"type": "integer", "minimum": 0}},
                        },
                        "How many comments were erased.",
                    ),
                    "400": _error("BadRequest"),
                    "401": _error("Unauthorized"),
                    "503": _error("Unavailable"),
                },
            },
        },
        "/media/{key}": {
            "get": {
                "operationId": "getImage",
                "summary": "An image of a published comment: a redirect to the object store (404 once none shows it).",
                "parameters": [_MEDIA_KEY],
                "responses": {
                    "302": _MEDIA_REDIRECT,
                    "404": _error("NotFound"),
                    "503": _error("Unavailable"),
                },
            }
        },
        "/admin/media/{key}": {
            "get": {
                "operationId": "adminGetImage",
                "summary": "An image of any comment, pending and rejected ones included: what a moderator decides on.",
                "security": _BEARER,
                "parameters": [_MEDIA_KEY],
                "responses": {
                    "302": _MEDIA_REDIRECT,
                    "401": _error("Unauthorized"),
                    "404": _error("NotFound"),
                    "503": _error("Unavailable"),
                },
            }
        },
        "/unsubscribe": {
            "get": {
                "operationId": "confirmUnsubscribe",
                "summary": "The link in every reply e-mail: a page with a button to stop them. Changes nothing.",
                "parameters": [_UNSUBSCRIBE_TOKEN],
                "responses": {
                    "200": {"description": "An HTML page with a form that POSTs.", "content": {"text/html": {}}},
                    "400": _error("BadRequest"),
                    "404": _error("NotFound"),
                    "503": _error("Unavailable"),
                },
            },
            "post": {
                "operationId": "unsubscribe",
                "summary": "Stop reply e-mails: the page's button, and mail clients' one-click (RFC 8058).",
                "parameters": [_UNSUBSCRIBE_TOKEN],
                "responses": {
                    "200": {
                        "description": "No more reply e-mails for this comment (an HTML page when asked for).",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["status", "comment_id"],
                                    "properties": {"status": {"const": "unsubscribed"}, "comment_id": ID},
                                }
                            },
                            "text/html": {},
                        },
                    },
                    "400": _error("BadRequest"),
                    "404": _error("NotFound"),
                    "503": _error("Unavailable"),
                },
            },
        },
        "/admin/comments/{comment_id}": {
            "patch": {
                "operationId": "moderateComment",
                "summary": "Publish or reject a comment.",
                "security": _BEARER,
                "parameters": _COMMENT_ID,
                "requestBody": _json_body(_ref("Decision")),
                "responses": {
                    "200": _json(_ref("AdminComment"), "Decided."),
                    "400": _error("BadRequest"),
                    "401": _error("Unauthorized"),
                    "404": _error("NotFound"),
                    "409": _error("Conflict"),
                    "413": _error("TooLarge"),
                    "415": _error("UnsupportedMediaType"),
                    "503": _error("Unavailable"),
                },
            },
            "delete": {
                "operationId": "eraseComment",
                "summary": "Erase a comment at any age (a tombstone if it has replies).",
                "security": _BEARER,
                "parameters": _COMMENT_ID,
                "responses": {
                    "204": _NO_CONTENT,
                    "400": _error("BadRequest"),
                    "401": _error("Unauthorized"),
                    "404": _error("NotFound"),
                    "503": _error("Unavailable"),
                },
            },
        },
        "/embed.js": {
            "get": {
                "operationId": "embedScript",
                "summary": 'The comment widget: `<script src=".../embed.js" defer>` under a `#comments` element.',
                "responses": {"200": _document("text/javascript", "The widget (cached for 5 minutes when built).")},
            }
        },
        "/widget/{name}": {
            "get": {
                "operationId": "widgetFile",
                "summary": "A file the widget loads; with its `?v=` digest it may be cached for a year.",
                "parameters": [
                    {
                        "name": "name",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[a-z][a-z-]*[.](js|css)$"},
                    },
                    {"name": "v", "in": "query", "required": False, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": "A module or stylesheet of the widget.",
                        "content": {kind: {"schema": {"type": "string"}} for kind in ("text/javascript", "text/css")},
                    },
                    "404": _error("NotFound"),
                },
            }
        },
        "/widget.json": {
            "get": {
                "operationId": "widgetSettings",
                "summary": "What the widget needs to know: its stylesheet, the edit window, image and text limits.",
                "responses": {"200": _json(_WIDGET_SETTINGS, "The widget's settings.")},
            }
        },
        # The admin web app (api/admin_app.py): HTML pages and forms, opened by a session cookie.
        "/admin": {
            "get": {
                "operationId": "adminApp",
                "summary": "The moderation app: the sign-in form, or the queue for a signed-in moderator.",
                "responses": {"200": _document("text/html", "The page.")},
            }
        },
        "/admin/sign-in": {
            "post": {
                "operationId": "adminSignIn",
                "summary": "Sign in with a moderator's secret (form field `secret`); sets the session cookie.",
                "responses": {
                    "303": {"description": "Signed in: back to /admin."},
                    "401": _document("text/html", "The secret opens nothing (the form again)."),
                    "403": _document("text/html", "Sent from another site: nothing was done."),
                    "429": _document("text/html", "Too many failed sign-ins from this client."),
                },
            }
        },
        "/admin/sign-out": {
            "post": {
                "operationId": "adminSignOut",
                "summary": "End the session, on the server too (form field `csrf`).",
                "responses": {
                    "303": {"description": "Signed out: back to /admin."},
                    "403": _document("text/html", "Sent from another site: nothing was done."),
                },
            }
        },
        "/admin/comments/{comment_id}/act": _app_form(
            "adminAct",
            "Approve, reject or delete from the app (form fields `action`, `csrf`).",
            "Done: back to /admin, which says what was done.",
            {"name": "comment_id", "schema": {"type": "integer"}},
        ),
        "/admin/list": {
            "get": {
                "operationId": "adminAppList",
                "summary": "Every comment, newest first, 50 a page; `status`, `thread`, `client` filters, `cursor`.",
                "responses": {"200": _document("text/html", "The page.")},
            }
        },
        "/admin/deliveries": {
            "get": {
                "operationId": "adminAppDeliveries",
                "summary": "The failed webhook and e-mail deliveries, each with a Retry button.",
                "responses": {"200": _document("text/html", "The page.")},
            }
        },
        "/admin/deliveries/{delivery_id}/retry": _app_form(
            "adminAppRetry",
            "Send a failed delivery again (form field `csrf`).",
            "Back to the deliveries, which say what was done.",
            {"name": "delivery_id", "schema": {"type": "integer"}},
        ),
        "/admin/clients/{client}/erase": _app_form(
            "adminAppEraseClient",
            "Erase every comment of one client pseudonym (form field `csrf`).",
            "Back to /admin, which says how many were erased.",
            {"name": "client", "schema": {"type": "string"}},
        ),
        "/admin/bulk": _app_form(
            "adminAppBulk",
            "Approve, reject or delete the selected comments (form fields `id`..., `action`, `csrf`).",
            "Done: back to /admin, which says how many.",
        ),
        "/admin/app.js": {
            "get": {
                "operationId": "adminScript",
                "summary": "The app's keyboard, selection and undo (the forms work without it).",
                "responses": {"200": _document("text/javascript", "The script.")},
            }
        },
        "/admin/images/{key}": {
            "get": {
                "operationId": "adminAppImage",
                "summary": "Any comment's image, for a signed-in moderator: a redirect to the object store.",
                "parameters": [_MEDIA_KEY],
                "responses": {"302": _MEDIA_REDIRECT, "404": _error("NotFound"), "503": _error("Unavailable")},
            }
        },
        "/admin/app.css": {
            "get": {
                "operationId": "adminStylesheet",
                "summary": "The app's stylesheet.",
                "responses": {"200": _document("text/css", "The stylesheet.")},
            }
        },
        "/feed.atom": {
            "get": {
                "operationId": "feed",
                "summary": "An Atom 1.0 feed of the latest published comments, site-wide or of one thread.",
                "parameters": [{"name": "thread", "in": "query", "required": False, "schema": {"type": "string"}}],
                "responses": {
                    "200": _document("application/atom+xml", "The feed (ETag, Last-Modified)."),
                    "304": {"description": "Not modified since the ETag or time given."},
                    "400": _error("BadRequest"),
                    "503": _error("Unavailable"),
                },
            }
        },
        "/demo": {
            "get": {
                "operationId": "demoPage",
                "summary": "A plain article page with the widget under it (strict Content-Security-Policy).",
                "parameters": [
                    {"name": "thread", "in": "query", "required": False, "schema": {"type": "string"}},
                    {
                        "name": "page_size",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                    },
                ],
                "responses": {
                    "200": _document("text/html", "The page."),
                    "400": _error("BadRequest"),
                },
            }
        },
        "/healthz": {
            "get": {
                "operationId": "health",
                "summary": "Liveness: 200 while the process runs; never touches the database.",
                "responses": {"200": _json(_ref("Status"), "Alive.")},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "ready",
                "summary": "Readiness: 200 when the database answers and the schema is current.",
                "responses": {"200": _json(_ref("Status"), "Ready."), "503": _error("Unavailable")},
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document.",
                "responses": {"200": _json({"type": "object"}, "The OpenAPI document.")},
            }
        },
    },
    "components": {
        "schemas": {
            "NewComment": _NEW_COMMENT,
            "Comment": _COMMENT,
            "Image": _IMAGE,
            "CreatedComment": _CREATED_COMMENT,
            "AdminComment": _ADMIN_COMMENT,
            "AdminCommentPage": _ADMIN_PAGE,
            "Edit": _EDIT,
            "Decision": _DECISION,
            "Counts": _COUNTS,
            "Delivery": _DELIVERY,
            "CommentPage": _PAGE,
            "Error": _ERROR,
            "Status": {
                "type": "object",
                "required": ["status"],
                "properties": {
                    "status": {"type": "string", "enum": ["ok"]},
                    "replica": {
                        "type": "object",
                        "description": "/readyz only: the read replica (DATABASE_REPLICA_URL); never makes it fail.",
                        "required": ["state"],
                        "properties": {
                            "state": {
                                "type": "string",
                                "enum": ["in use", "lagging", "down", "not a standby", "not configured", "unchecked"],
                            },
                            "lag_seconds": {"type": ["number", "null"]},
                        },
                    },
                },
            },
        },
        "responses": {
            name: {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}
            for name, description in {
                "BadRequest": "Invalid input; `fields` says which.",
                "NotFound": "No such comment or address.",
                "Unauthorized": "Missing, malformed or wrong bearer token (code invalid_token).",
                "Forbidden": "Not allowed now: the edit window is over (code edit_window_closed).",
                "Conflict": (
                    "A duplicate of the client's recent comment, a deleted comment to moderate, or a request"
                    " with the same Idempotency-Key still running (idempotency_key_in_use)."
                ),
                "KeyReused": "The Idempotency-Key was used for a different request (idempotency_key_reused).",
                "TooLarge": "The body is over MAX_BODY_BYTES, or an image over MAX_IMAGE_BYTES (image_too_large).",
                "UnsupportedMediaType": "Neither JSON, an urlencoded form nor multipart/form-data.",
                "Unavailable": (
                    "Try again after Retry-After seconds: the database is unreachable or read-only"
                    " (database_unavailable), the schema is behind (schema_outdated), the database"
                    " cannot be used as configured (database_misconfigured), or images cannot be"
                    " stored (storage_unavailable; posts without images still work)."
                ),
            }.items()
        }
        | {
            "RateLimited": {
                "description": "Over RATE_LIMIT_POSTS for this client (code rate_limited).",
                "headers": _RETRY_AFTER,
                "content": {"application/json": {"schema": _ref("Error")}},
            }
        },
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "A comment's edit_token (author routes) or ADMIN_TOKEN (/admin routes).",
            }
        },
    },
}


@blueprint.get("/openapi.json")
def openapi_document():
    return DOCUMENT
