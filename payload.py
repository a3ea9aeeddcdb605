"""Turning request bodies and query strings into plain, trusted values, or an ApiError."""

import base64
import binascii
import json
from dataclasses import dataclass
from urllib.parse import parse_qsl

from flask import Request
from werkzeug.exceptions import UnsupportedMediaType

from comment import FIELD_LIMITS, parse_id, text_problem
from errors import ApiError, invalid_fields

FORM_TYPE = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"
MAX_FIELDS = 20
LIMIT_RANGE = (1, 100)
DEFAULT_LIMIT = 20
ORDERS = ("oldest", "newest")
LIST_PARAMS = frozenset(("thread", "limit", "order", "cursor"))


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def read_body(request: Request) -> dict:
    """The body of a POST as a dict of fields, from JSON or an urlencoded form."""
    mimetype = request.mimetype
    if mimetype not in (JSON_TYPE, FORM_TYPE):
        raise UnsupportedMediaType()  # rendered by errors.py like every other HTTP error
    raw = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    return _parse_json(raw) if mimetype == JSON_TYPE else _parse_form(raw)


def _parse_json(raw: bytes) -> dict:
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # bad UTF-8 or JSON, NaN, 4300+ digit numbers, deep nesting
        raise ApiError(400, "malformed_json", "The body is not valid UTF-8 JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "not_an_object", "The JSON body must be an object.")
    return data


def _parse_form(raw: bytes) -> dict:
    data = _urlencoded(raw)
    if data is None:
        raise ApiError(400, "malformed_form", "The form is not valid UTF-8 urlencoded data.")
    duplicated = {key: "must be given only once" for key, values in data.items() if len(values) > 1}
    if duplicated:
        raise invalid_fields(duplicated)
    fields = {key: values[0] for key, values in data.items()}
    if "parent_id" in fields:  # forms carry only strings: "" means no parent, digits an id
        text = fields["parent_id"]
        fields["parent_id"] = None if text == "" else (parse_id(text) or text)
    return fields


def _urlencoded(raw: bytes) -> dict[str, list[str]] | None:
    """Strictly decoded key -> values, or None for bad UTF-8 (raw or %-encoded) or too many fields.

    Werkzeug would replace bad bytes with U+FFFD, quietly changing what the client sent.
    """
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=MAX_FIELDS
        )
    except ValueError:
        return None
    data: dict[str, list[str]] = {}
    for key, value in pairs:
        data.setdefault(key, []).append(value)
    return data


@dataclass(frozen=True)
class ListQuery:
    thread: str | None
    limit: int
    newest_first: bool
    after_id: int | None

    def link_params(self, next_cursor: str) -> dict[str, str]:
        params = {"limit": str(self.limit), "order": "newest" if self.newest_first else "oldest", "cursor": next_cursor}
        if self.thread is not None:
            params = {"thread": self.thread, **params}
        return params


def read_list_query(request: Request) -> ListQuery:
    """GET /comments query parameters, every one checked."""
    args = _urlencoded(request.query_string)
    if args is None:
        raise ApiError(400, "invalid_query", "The query string is not valid UTF-8 urlencoded data.")
    errors = {}
    for key, values in args.items():
        if key not in LIST_PARAMS:
            errors[key] = "is not a known parameter"
        elif len(values) > 1:
            errors[key] = "must be given only once"
    args = {key: values[0] for key, values in args.items()}
    thread = args.get("thread")
    if thread is not None and (problem := text_problem(thread, FIELD_LIMITS["thread"])):
        errors["thread"] = problem
    limit = _limit(args.get("limit"), errors)
    order = args.get("order", "oldest")
    if order not in ORDERS:
        errors["order"] = "must be oldest or newest"
    after_id = None
    if "cursor" in args:
        after_id = decode_cursor(args["cursor"])
        if after_id is None:
            errors["cursor"] = "is not a cursor this service gave out"
    if errors:
        raise ApiError(400, "invalid_query", "Some query parameters are invalid.", errors)
    return ListQuery(thread=thread, limit=limit, newest_first=order == "newest", after_id=after_id)


def _limit(raw: str | None, errors: dict) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    low, high = LIMIT_RANGE
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 4 and low <= int(raw) <= high):
        errors["limit"] = f"must be a whole number from {low} to {high}"
        return DEFAULT_LIMIT
    return int(raw)


# A cursor is the last id of a page, versioned and base64url-encoded so that clients treat it
# as opaque and the format can change without breaking them.
def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int | None:
    if not cursor.isascii() or len(cursor) > 40:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        return None
    version, _, last_id = text.partition(":")
    return parse_id(last_id) if version == "v1" else None
