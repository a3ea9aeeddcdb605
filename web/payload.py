"""Turning request bodies and query strings into plain, trusted values, or a domain error."""

import base64
import binascii
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from urllib.parse import parse_qsl

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.multipart import Epilogue, Field, File, MultipartDecoder, NeedData, Preamble

from comment import FIELD_LIMITS, START, STATUSES, Position, Rank, normalize, parse_id, text_problem
from core.exceptions import BodyTooLarge, ImagesDisabled, InvalidInput, UnsupportedMediaType, ValidationError

FORM_TYPE = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"
MULTIPART_TYPE = "multipart/form-data"
IMAGE_FIELD = "image"
MAX_FIELDS = 20
LIMIT_RANGE = (1, 100)
DEFAULT_LIMIT = 20
ORDERS = ("oldest", "newest", "top")
LIST_PARAMS = frozenset(("thread", "limit", "order", "cursor"))
ADMIN_LIST_PARAMS = frozenset(("status", "thread", "limit", "cursor"))
MAX_COUNT_THREADS = 100
RANK_SCORE = re.compile(r"[01](\.[0-9]{1,20})?(e-[0-9]{1,3})?")  # a Wilson bound as repr() writes it
READ_STEP = 16384
# RFC 2046 caps a boundary at 70 characters, but werkzeug's own test client sometimes makes
# 71-72 (a time and a random float), so other clients will too. The bound only keeps the
# decoder's search short; refusing a well-formed body over two characters helps no one.
MAX_BOUNDARY = 200


@dataclass(frozen=True)
class ImageLimits:
    """What a multipart post may carry besides its text (MAX_IMAGE_BYTES and four parts)."""

    per_image: int
    count: int
    enabled: bool


def read_body(request: Request, limit: int, images: ImageLimits | None = None) -> tuple[dict, list[bytes]]:
    """The fields of a POST, from JSON, an urlencoded form or multipart/form-data; and the
    bytes of its image parts, in order (multipart only, when `images` allows them)."""
    mimetype = request.mimetype
    if mimetype == MULTIPART_TYPE and images is not None:
        return _read_multipart(request, limit, images)
    if mimetype not in (JSON_TYPE, FORM_TYPE):
        raise UnsupportedMediaType()
    raw = read_raw_body(request, limit)
    return (_parse_json(raw) if mimetype == JSON_TYPE else _parse_form(raw)), []


def read_json_body(request: Request, limit: int) -> dict:
    """A JSON object body (the only kind PATCH takes)."""
    if request.mimetype != JSON_TYPE:
        raise UnsupportedMediaType("Send application/json.")
    return _parse_json(read_raw_body(request, limit))


def read_raw_body(request: Request, limit: int) -> bytes:
    """At most `limit` bytes of body, whether framed by Content-Length or chunked.

    Reads the server's input stream itself: werkzeug's limited stream ends a chunked body
    quietly at the limit, which would store a truncated form instead of answering 413.
    """
    return b"".join(_body_chunks(request, limit))


def _body_chunks(request: Request, limit: int) -> Iterator[bytes]:
    """The body as it arrives, in pieces of at most READ_STEP bytes; BodyTooLarge past `limit`."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise BodyTooLarge()
    stream, size = request.environ["wsgi.input"], 0
    while True:
        try:
            chunk = stream.read(min(READ_STEP, limit + 1 - size))
        except Exception:  # the server's own framing errors (bad chunk sizes...) are not OSErrors
            raise InvalidInput("The request body is not framed correctly.", code="malformed_body") from None
        if not chunk:
            return
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        yield chunk


def _read_multipart(request: Request, text_limit: int, limits: ImageLimits) -> tuple[dict, list[bytes]]:
    """Text fields and image parts, read as they stream in and kept in memory only (never in
    temporary files): the text within `text_limit`, each image within its own limit."""
    boundary = request.mimetype_params.get("boundary", "")
    if not 1 <= len(boundary) <= MAX_BOUNDARY or not boundary.isascii():
        problem = f"A multipart body needs a boundary of 1 to {MAX_BOUNDARY} characters."
        raise InvalidInput(problem, code="malformed_body")
    body_limit = text_limit + (limits.count * limits.per_image if limits.enabled else 0)
    decoder = MultipartDecoder(boundary.encode(), max_parts=MAX_FIELDS + limits.count)
    text: dict[str, list[str]] = {}
    images: list[bytes] = []
    part = None  # (kind, name, pieces) of the part being read
    text_size = part_size = 0
    try:
        for chunk in chain(_body_chunks(request, body_limit), [None]):  # None: the end
            decoder.receive_data(chunk)
            while not isinstance(event := decoder.next_event(), NeedData | Epilogue):
                if isinstance(event, Preamble):
                    continue
                if isinstance(event, Field | File):
                    part, part_size = _start_part(event, images, limits), 0
                    continue
                kind, name, pieces = part
                pieces.append(event.data)
                part_size += len(event.data)
                if kind == "text":
                    text_size += len(event.data)
                    if text_size > text_limit:
                        raise BodyTooLarge()
                elif part_size > limits.per_image:
                    raise BodyTooLarge(f"{name} is larger than {limits.per_image} bytes.", code="image_too_large")
                if not event.more_data:
                    _finish_part(kind, name, pieces, text, images)
            if isinstance(event, Epilogue):
                break
    except ValueError:  # werkzeug's word for a body that does not follow the multipart format
        raise InvalidInput("The multipart body is malformed.", code="malformed_body") from None
    except RequestEntityTooLarge:  # the decoder's max_parts: too many fields, as a form's would be
        problem = f"The form has more than {MAX_FIELDS + limits.count} parts."
        raise InvalidInput(problem, code="malformed_form") from None
    if not isinstance(event, Epilogue):
        raise InvalidInput("The multipart body ends before its closing boundary.", code="malformed_body")
    return _form_fields(text), images


def _start_part(event: Field | File, images: list[bytes], limits: ImageLimits) -> tuple[str, str, list[bytes]]:
    if not event.name:
        raise ValidationError({"(unnamed part)": "every part needs a name"})
    if event.name != IMAGE_FIELD:
        if isinstance(event, File):
            raise ValidationError({event.name: "is not a known file field: send images as image"})
        return "text", event.name, []
    if not limits.enabled:
        raise ImagesDisabled()
    if len(images) >= limits.count:
        raise ValidationError({IMAGE_FIELD: f"at most {limits.count} images per comment"})
    return "image", f"image[{len(images) + 1}]", []


def _finish_part(kind: str, name: str, pieces: list[bytes], text: dict, images: list[bytes]) -> None:
    if kind == "image":
        images.append(b"".join(pieces))
        pieces.clear()  # a few MB: not held twice until the body ends
        return
    try:
        text.setdefault(name, []).append(b"".join(pieces).decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput("The form's text is not valid UTF-8.", code="malformed_form") from None


def reject_query(request: Request) -> None:
    """Operations that take no query parameters refuse any, rather than silently ignore them."""
    args = _query_args(request)
    if args:
        fields = {key: "is not a known parameter" for key in args}
        raise InvalidInput("This operation takes no query parameters.", code="invalid_query", fields=fields)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    data = dict(pairs)
    if len(data) != len(pairs):
        seen, repeated = set(), {}
        for key, _ in pairs:
            if key in seen:
                repeated[key] = "must be given only once"
            seen.add(key)
        raise ValidationError(repeated)
    return data


def _parse_json(raw: bytes) -> dict:
    try:
        text = raw.decode("utf-8")
        data = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError):  # bad UTF-8 or JSON, NaN, 4300+ digit numbers, deep nesting
        raise InvalidInput("The body is not valid UTF-8 JSON.", code="malformed_json") from None
    if not isinstance(data, dict):
        raise InvalidInput("The JSON body must be an object.", code="not_an_object")
    return data


def _parse_form(raw: bytes) -> dict:
    data = _urlencoded(raw)
    if data is None:
        raise InvalidInput("The form is not valid UTF-8 urlencoded data.", code="malformed_form")
    return _form_fields(data)


def _form_fields(data: dict[str, list[str]]) -> dict:
    """A form's fields (urlencoded or multipart) as the validation takes them."""
    duplicated = {key: "must be given only once" for key, values in data.items() if len(values) > 1}
    if duplicated:
        raise ValidationError(duplicated)
    fields = {key: values[0] for key, values in data.items()}
    if "parent_id" in fields:  # forms carry only strings: "" means no parent, digits an id
        text = fields["parent_id"]
        fields["parent_id"] = None if text == "" else (parse_id(text) or text)
    return fields


def _urlencoded(raw: bytes, max_fields: int = MAX_FIELDS) -> dict[str, list[str]] | None:
    """Strictly decoded key -> values, or None for bad UTF-8 (raw or %-encoded) or too many fields.

    Werkzeug would replace bad bytes with U+FFFD, quietly changing what the client sent.
    """
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=max_fields
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
    order: str  # one of ORDERS
    after: Position | Rank | None  # a Rank for order=top
    legacy_after_id: int | None = None  # a v1 cursor, which named only an id

    @property
    def newest_first(self) -> bool:
        return self.order == "newest"

    def link_params(self, next_cursor: str) -> dict[str, str]:
        params = {"limit": str(self.limit), "order": self.order, "cursor": next_cursor}
        if self.thread is not None:
            params = {"thread": self.thread, **params}
        return params


def read_list_query(request: Request) -> ListQuery:
    """GET /comments query parameters, every one checked."""
    args, errors = _single_values(request, LIST_PARAMS)
    thread = _thread(args.get("thread"), errors)
    limit = _limit(args.get("limit"), errors)
    order = args.get("order", "oldest")
    if order not in ORDERS:
        errors["order"] = "must be oldest, newest or top"
    elif order == "top" and thread is None and "thread" not in errors:
        errors["thread"] = "is required with order=top"
    after = legacy = None
    if "cursor" in args and order == "top":
        if (after := decode_rank(args["cursor"])) is None:
            errors["cursor"] = "is not a cursor this service gave out for order=top"
    elif "cursor" in args:
        after = decode_cursor(args["cursor"], newest_first=order == "newest")
        legacy = decode_legacy_cursor(args["cursor"]) if after is None else None
        if after is None and legacy is None:
            errors["cursor"] = "is not a cursor this service gave out"
    _raise_if(errors)
    return ListQuery(thread, limit, order, after, legacy)


@dataclass(frozen=True)
class AdminListQuery:
    status: str | None
    thread: str | None
    limit: int
    before: Position | None

    def link_params(self, next_cursor: str) -> dict[str, str]:
        given = {"status": self.status, "thread": self.thread, "limit": str(self.limit), "cursor": next_cursor}
        return {key: value for key, value in given.items() if value is not None}


def read_admin_list_query(request: Request) -> AdminListQuery:
    """GET /admin/comments query parameters: newest first, optionally one status and thread."""
    args, errors = _single_values(request, ADMIN_LIST_PARAMS)
    status = args.get("status")
    if status is not None and status not in STATUSES:
        errors["status"] = f"must be one of: {', '.join(STATUSES)}"
    thread = _thread(args.get("thread"), errors)
    limit = _limit(args.get("limit"), errors)
    before = None
    if "cursor" in args and (before := decode_cursor(args["cursor"], newest_first=True)) is None:
        errors["cursor"] = "is not a cursor this service gave out"
    _raise_if(errors)
    return AdminListQuery(status, thread, limit, before)


def read_feed_query(request: Request) -> str | None:
    """GET /feed.atom: at most one `thread` (the whole site's feed without it)."""
    args, errors = _single_values(request, frozenset(("thread",)))
    thread = _thread(args.get("thread"), errors)
    _raise_if(errors)
    return thread


def read_count_query(request: Request) -> list[str]:
    """GET /counts: 1 to 100 `thread` parameters, each normalised, repeats ignored."""
    args = _query_args(request, max_fields=MAX_COUNT_THREADS)
    errors = {key: "is not a known parameter" for key in args if key != "thread"}
    threads = list(dict.fromkeys(normalize(thread) for thread in args.get("thread", [])))
    if not 1 <= len(threads) <= MAX_COUNT_THREADS:
        errors["thread"] = f"must be given 1 to {MAX_COUNT_THREADS} times"
    for thread in threads:
        if problem := text_problem(thread, FIELD_LIMITS["thread"]):
            errors["thread"] = problem
    _raise_if(errors)
    return threads


@dataclass(frozen=True)
class DemoQuery:
    thread: str
    page_size: int | None  # a page of GET /comments, when given
    lang: str | None  # the widget's language (data-lang), when given
    poll_seconds: int | None  # how often the widget asks for new comments, when given


DEMO_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}")
MAX_POLL_SECONDS = 3600


def read_demo_query(request: Request) -> DemoQuery:
    """GET /demo: the thread to show ("demo" when not given) and, if given, the widget's page
    size, language and poll interval. Other parameters are ignored: it is a page, not the API."""
    args, errors = _query_args(request), {}
    thread = _thread(args.get("thread", ["demo"])[0], errors)
    page_size = _limit(args["page_size"][0], errors, "page_size") if "page_size" in args else None
    lang = args.get("lang", [None])[0]
    if lang is not None and not DEMO_LANGUAGE.fullmatch(lang):
        errors["lang"] = "must be a language tag such as de or pt-BR"
    poll = args.get("poll", [None])[0]
    if poll is not None and not (poll.isascii() and poll.isdigit() and 1 <= int(poll) <= MAX_POLL_SECONDS):
        errors["poll"] = f"must be 1 to {MAX_POLL_SECONDS} seconds"
    _raise_if(errors)
    return DemoQuery(thread, page_size, lang, int(poll) if poll is not None else None)


def _single_values(request: Request, known: frozenset[str]) -> tuple[dict[str, str], dict[str, str]]:
    """The query's parameters, each given at most once; and the errors found so far."""
    args = _query_args(request)
    errors = {}
    for key, values in args.items():
        if key not in known:
            errors[key] = "is not a known parameter"
        elif len(values) > 1:
            errors[key] = "must be given only once"
    return {key: values[0] for key, values in args.items()}, errors


def _query_args(request: Request, max_fields: int = MAX_FIELDS) -> dict[str, list[str]]:
    args = _urlencoded(request.query_string, max_fields)
    if args is None:
        raise InvalidInput(
            f"The query string is not valid UTF-8 urlencoded data of at most {max_fields} parameters.",
            code="invalid_query",
        )
    return args


def _thread(raw: str | None, errors: dict) -> str | None:
    if raw is None:
        return None
    thread = normalize(raw)
    if problem := text_problem(thread, FIELD_LIMITS["thread"]):
        errors["thread"] = problem
    return thread


def _raise_if(errors: dict[str, str]) -> None:
    if errors:
        raise InvalidInput("Some query parameters are invalid.", code="invalid_query", fields=errors)


def _limit(raw: str | None, errors: dict, name: str = "limit") -> int:
    if raw is None:
        return DEFAULT_LIMIT
    low, high = LIMIT_RANGE
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 4 and low <= int(raw) <= high):
        errors[name] = f"must be a whole number from {low} to {high}"
        return DEFAULT_LIMIT
    return int(raw)


# A cursor is the ordering key of the last comment of a page, versioned and base64url-encoded so
# that clients treat it as opaque and the format can change without breaking them. v3 carries
# (transaction id, creation time, id), the key that is safe under concurrent inserts and puts
# imported comments in their place in time (db.py, migrations/0011). Older cursors are still
# accepted: v2 carried (transaction id, id), and names the whole transaction's group (a post is
# alone in its transaction); v1 carried the id alone.
CURSOR_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z|-?infinity")


def encode_cursor(position: Position) -> str:
    return _b64(f"v3:{position.txid}:{position.created_at}:{position.id}")


def decode_cursor(cursor: str, newest_first: bool = False) -> Position | None:
    version, _, rest = _unb64(cursor).partition(":")
    if version == "v2":
        txid, _, last_id = rest.partition(":")
        # Beyond every comment of that transaction, in the direction of reading.
        return _position(txid, "-infinity" if newest_first else "infinity", last_id, rest == "0:0")
    if version == "v3":
        txid, _, rest = rest.partition(":")
        created_at, _, last_id = rest.rpartition(":")
        return _position(txid, created_at, last_id, rest == "-infinity:0")
    return None


def _position(txid: str, created_at: str, last_id: str, is_start: bool) -> Position | None:
    if is_start and txid == "0":
        return START
    txid, last_id = parse_id(txid), parse_id(last_id)
    if txid is None or last_id is None or not _cursor_time(created_at):
        return None
    return Position(txid, created_at, last_id)


def _cursor_time(text: str) -> bool:
    if not CURSOR_TIME.fullmatch(text):
        return False
    try:
        return text.endswith("infinity") or bool(datetime.fromisoformat(text))
    except ValueError:  # well formed but no such moment (a 13th month)
        return False


def encode_rank(rank: Rank) -> str:
    return _b64(f"top:{rank.score!r}:{rank.id}")  # repr: the float exactly, as it came


def decode_rank(cursor: str) -> Rank | None:
    version, _, rest = _unb64(cursor).partition(":")
    score, _, last_id = rest.partition(":")
    if version != "top" or not RANK_SCORE.fullmatch(score) or (last_id := parse_id(last_id)) is None:
        return None
    score = float(score)
    return Rank(score, last_id) if 0.0 <= score <= 1.0 else None


def decode_legacy_cursor(cursor: str) -> int | None:
    version, _, last_id = _unb64(cursor).partition(":")
    return parse_id(last_id) if version == "v1" else None


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(cursor: str) -> str:
    if not cursor.isascii() or len(cursor) > 120:
        return ""
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        return ""
