"""The Comment value, its place in listings, and the validation of what clients send to create one."""

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from core.exceptions import ValidationError

MAX_BIGINT = 2**63 - 1
DEFAULT_THREAD = "default"
FIELD_LIMITS = {"thread": 200, "name": 100, "comment": 10_000}
ALLOWED_FIELDS = frozenset(("thread", "parent_id", "name", "comment", "website", "email", "notify_replies"))
MAX_EMAIL = 254
# Deliberately loose (one @, a dot in the domain, no spaces): the mail server is the judge.
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
FORM_BOOLEANS = {"true": True, "on": True, "1": True, "false": False, "off": False, "0": False, "": False}
EDITABLE_FIELDS = frozenset(("name", "comment"))
# Fixing a typo takes a few edits; a bound keeps one edit token from rewriting a comment forever
# (and from filling the outbox with edit events).
MAX_EDITS = 20
STATUSES = ("published", "pending", "rejected", "deleted")
PUBLIC_STATUSES = ("published", "deleted")  # what anyone may see; deleted ones as tombstones
# What a comment shows once its words are withdrawn (erased, or hidden from an event's receivers).
WITHDRAWN_WORDS = {"name": None, "comment": None, "html": None, "images": []}
# What trimming removes: whitespace, but not the C0/C1 controls that Python's str.strip() also
# counts as whitespace (U+001C-U+001F, U+0085), which must be rejected, not silently dropped.
TRIMMED = "".join(c for c in map(chr, range(0x3001)) if c.isspace() and c not in "\x1c\x1d\x1e\x1f\x85")


@dataclass(frozen=True, slots=True)
class NewComment:
    thread: str
    parent_id: int | None
    name: str
    comment: str
    honeypot: bool = False  # the hidden `website` field was filled in: a bot
    email: str | None = None  # never shown by public reads
    notify_replies: bool = False


@dataclass(frozen=True, slots=True)
class Edit:
    name: str | None
    comment: str | None


# Neither frozen (a frozen __init__ costs a setattr call per field, per row) nor slotted: orjson
# writes a plain dataclass straight from its __dict__, four times as fast as a slotted one
# (14 against 3 µs for a page of 20), and every answer with comments is one of these.
@dataclass
class Comment:
    id: int
    thread: str
    parent_id: int | None
    name: str | None  # None once deleted
    comment: str | None
    html: str | None  # the comment rendered (core/formatting.py); None once deleted
    status: str  # published, pending, rejected or deleted
    created_at: str  # RFC 3339, UTC, formatted by the database
    edited_at: str | None
    images: list[dict]  # {"url", "content_type", "width", "height", "bytes"} (media.py)
    upvotes: int  # kept with each vote (api/votes.py)
    downvotes: int

    # No to_json(): the JSON provider (orjson) serialises dataclasses field by field, in order.


@dataclass
class CreatedComment(Comment):
    """The answer to a new comment: the only place its author's edit token is ever shown."""

    edit_token: str

    @classmethod
    def of(cls, comment: Comment, edit_token: str) -> "CreatedComment":
        return cls(*(getattr(comment, field.name) for field in fields(Comment)), edit_token)


@dataclass
class AdminComment(Comment):
    """What moderators see: every status, a pseudonym of the sender, and the reply e-mail."""

    client: str | None
    email: str | None
    notify_replies: bool


def sql_rfc3339(column: str) -> str:
    """SQL that formats a timestamptz column as the API shows times: RFC 3339, UTC, microseconds.
    (Formatting in SQL hands Python a ready string instead of a datetime to convert.)"""
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


@dataclass(frozen=True, slots=True)
class Position:
    """A comment's place in listings: (its transaction's id, its creation time, its id). See
    migrations/0002 and 0011. created_at is RFC 3339 as the API shows it, or PostgreSQL's
    "-infinity"/"infinity" for a position before or after a whole transaction's comments."""

    txid: int
    created_at: str
    id: int

    @classmethod
    def of(cls, txid: int, comment: "Comment") -> "Position":
        return cls(txid, comment.created_at, comment.id)


START = Position(0, "-infinity", 0)  # before every comment


@dataclass(frozen=True, slots=True)
class Rank:
    """A top-level comment's place in order=top: best score first, then oldest (lowest id) first."""

    score: float
    id: int


# Unicode's control characters (category Cc) are exactly U+0000-U+001F and U+007F-U+009F;
# surrogates (Cs) are U+D800-U+DFFF, which cannot be stored as UTF-8 when unpaired.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
CONTROL_EXCEPT_NEWLINE_TAB = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
SURROGATE = re.compile("[\ud800-\udfff]")
# Embeddings, overrides and isolates reorder how text is displayed ("Trojan Source", spoofed
# names). The plain marks U+200E/U+200F stay allowed: right-to-left writing needs them.
BIDI_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")


def _invisible_characters() -> str:
    """Characters that render as nothing: whitespace, format characters (zero-width spaces and
    joiners, soft hyphen, byte order mark, tags), Hangul and Braille blanks, variation selectors."""
    fillers = "\u115f\u1160\u17b4\u17b5\u3164\uffa0\u2800\u034f\u180b\u180c\u180d"
    selectors = "".join(map(chr, [*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)]))
    # Format characters (Cf) live in planes 0, 1 and 14 only; scanning just those keeps start-up fast.
    planes = (*range(0x20000), *range(0xE0000, 0xE1000))
    formats = "".join(c for c in map(chr, planes) if unicodedata.category(c) == "Cf")
    return TRIMMED + fillers + selectors + formats


# Matches any character that shows something; text without one is empty to a reader.
VISIBLE = re.compile(f"[^{re.escape(_invisible_characters())}]")


def text_problem(value: str, limit: int, controls: re.Pattern = CONTROL) -> str | None:
    """What is wrong with an (already normalised) text value, or None."""
    if not value:
        return "must not be empty"
    if len(value) > limit:
        return f"must be at most {limit} characters"
    if controls.search(value):
        return "must not contain control characters"
    if SURROGATE.search(value):
        return "must not contain unpaired surrogates"
    if BIDI_CONTROL.search(value):
        return "must not contain bidirectional control characters"
    if not VISIBLE.search(value):
        return "must contain visible characters"
    return None


def normalize(text: str) -> str:
    """NFC, so that the same words typed on different systems are the same text (and thread)."""
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def is_id(value: Any) -> bool:
    """A positive 64-bit integer; JSON `true` is not one, though Python counts bools as ints."""
    return type(value) is int and 1 <= value <= MAX_BIGINT


# An id in a path, as routes match it: ASCII digits only (parse_id then checks the value).
ID_IN_PATH = "[0-9]+"


def parse_id(text: str) -> int | None:
    """An id written in ASCII decimal digits (a path, a form field, a cursor), or None."""
    if not (text.isascii() and text.isdigit() and len(text) <= 19):
        return None
    value = int(text)
    return value if is_id(value) else None


def _text_field(data: Mapping[str, Any], field: str, errors: dict, *, trim: bool, controls: re.Pattern = CONTROL):
    value = data.get(field)
    if not isinstance(value, str):
        errors[field] = "is required" if value is None else "must be a string"
        return None
    value = normalize(value)
    if trim:
        value = value.strip(TRIMMED)
    problem = text_problem(value, FIELD_LIMITS[field], controls)
    if problem:
        errors[field] = problem
    return value


def validate_new_comment(data: Mapping[str, Any]) -> NewComment:
    """Check a decoded JSON object or form; raise ValidationError listing every bad field."""
    errors = {field: "is not allowed" for field in data if field not in ALLOWED_FIELDS}
    data = dict(data)
    data.setdefault("thread", DEFAULT_THREAD)
    if isinstance(data.get("comment"), str):
        # Browsers submit textarea line breaks as CRLF; store plain newlines.
        data["comment"] = data["comment"].replace("\r\n", "\n")
    thread = _text_field(data, "thread", errors, trim=False)
    name = _text_field(data, "name", errors, trim=True)
    comment = _text_field(data, "comment", errors, trim=True, controls=CONTROL_EXCEPT_NEWLINE_TAB)
    parent_id = data.get("parent_id")
    if parent_id is not None and not is_id(parent_id):
        errors["parent_id"] = "must be null or a positive integer id"
    website = data.get("website", "")
    if not isinstance(website, str):
        errors["website"] = "must be a string"
    email = _email(data.get("email"), errors)
    notify = _boolean(data.get("notify_replies", False), "notify_replies", errors)
    if notify and email is None and "email" not in errors:
        errors["notify_replies"] = "needs an email"
    if errors:
        raise ValidationError(errors)
    return NewComment(thread, parent_id, name, comment, bool(website), email, notify)


def _email(value: Any, errors: dict) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_EMAIL or not EMAIL.fullmatch(value) or not value.isprintable():
        errors["email"] = f"must be an e-mail address of at most {MAX_EMAIL} characters"
        return None
    return value


def _boolean(value: Any, field: str, errors: dict) -> bool:
    """JSON true/false, or in a form "true"/"false", "on"/"off", "1"/"0" (a checkbox)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in FORM_BOOLEANS:
        return FORM_BOOLEANS[value.lower()]
    errors[field] = "must be true or false"
    return False


VOTE_VALUES = (1, -1, 0)  # up, down, and taking one's vote back


def validate_vote(data: Mapping[str, Any], *, form: bool = False) -> int:
    """{"value": 1}, {"value": -1} or {"value": 0} (withdraw): the vote, or ValidationError."""
    errors = {field: "is not allowed" for field in data if field != "value"}
    value = data.get("value")
    if form and value in ("1", "-1", "0"):
        value = int(value)  # a form sends text
    if type(value) is not int or value not in VOTE_VALUES:
        errors["value"] = "must be 1, -1 or 0 (withdraw)"
    if errors:
        raise ValidationError(errors)
    return value


def validate_preview(data: Mapping[str, Any]) -> str:
    """The `comment` to preview, with the rules of a new comment's text."""
    errors = {field: "is not allowed" for field in data if field != "comment"}
    data = dict(data)
    if isinstance(data.get("comment"), str):
        data["comment"] = data["comment"].replace("\r\n", "\n")
    text = _text_field(data, "comment", errors, trim=True, controls=CONTROL_EXCEPT_NEWLINE_TAB)
    if errors:
        raise ValidationError(errors)
    return text


def validate_edit(data: Mapping[str, Any]) -> Edit:
    """An author's change: `name` and/or `comment`, with the same rules as on creation."""
    errors = {field: "is not allowed" for field in data if field not in EDITABLE_FIELDS}
    if not errors and not data:
        errors["comment"] = "is required (or name)"
    data = dict(data)
    if isinstance(data.get("comment"), str):
        data["comment"] = data["comment"].replace("\r\n", "\n")
    name = comment = None
    if "name" in data:
        name = _text_field(data, "name", errors, trim=True)
    if "comment" in data:
        comment = _text_field(data, "comment", errors, trim=True, controls=CONTROL_EXCEPT_NEWLINE_TAB)
    if errors:
        raise ValidationError(errors)
    return Edit(name=name, comment=comment)
