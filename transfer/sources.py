"""What every importer reads into: one `Record` per comment in the source, cleaned to this
service's rules, whatever system it came from; and how a file is opened and its format found.

A format module (disqus.py, wordpress.py...) turns its file into Records; `finish()` then
applies the same rules to all of them: threads from page URLs, names, e-mails, text that our
validation would refuse (reported with its source id, never dropped in silence).
"""

import gzip
import io
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import quote, urlsplit

import orjson

from comment import BIDI_CONTROL, EMAIL, FIELD_LIMITS, MAX_EMAIL, TRIMMED, VISIBLE, normalize, text_problem
from web.auth import client_fingerprint, is_address

ANONYMOUS = "Anonymous"
# Controls that old comment systems let through (a stray backspace from a copy and paste) and that
# show nothing: dropped. Bidirectional controls can reorder what a reader sees: those refuse the
# text, as they would a new comment.
INVISIBLE_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# What a browser's location.pathname leaves as it is; anything else it percent-encodes (UTF-8).
PATH_SAFE = "/%:@!$&'()*+,;=-._~"
GZIP_MAGIC = b"\x1f\x8b"
SQLITE_MAGIC = b"SQLite format 3\x00"
PEEK = 4096


class ImportRefused(Exception):
    """The file cannot be imported (malformed, unsafe, of no known format): one line says why."""


@dataclass(slots=True)
class Record:
    """One comment as the source had it, once cleaned: what the staging table holds (importer.py)."""

    source_id: str
    created_at: datetime | None  # UTC; None only in a refused record
    status: str  # published, pending, rejected or deleted
    thread: str | None = None  # the thread key, or None until `thread_ref` is resolved
    thread_ref: str | None = None  # a source's own thread id (Disqus lists threads apart)
    parent_ref: str | None = None  # the parent's source id
    name: str | None = None
    email: str | None = None
    comment: str | None = None
    edited_at: datetime | None = None
    client: str | None = None  # the pseudonym of the sender's address (web/auth.py)
    notify_replies: bool = False
    images: list = field(default_factory=list)  # native exports only
    keep_id: int | None = None  # native exports only: the id it had
    problem: str | None = None  # why it is refused, if it is


@dataclass(slots=True)
class ThreadLink:
    """A source's thread id and the thread key it stands for (Disqus: <thread> elements)."""

    ref: str
    thread: str | None
    problem: str | None = None


@dataclass
class Options:
    thread_key: str = "path"  # or "url": keep whole URLs as thread keys
    secret_key: str | None = None  # for client pseudonyms from the source's addresses
    skipped: Counter = field(default_factory=Counter)  # what a source holds that is no comment
    site: str | None = None  # what the file says it comes from (a forum, a blog's address)


def open_input(path: str) -> io.BufferedReader:
    """The file (or standard input for "-") as bytes, gunzipped if it is compressed."""
    raw = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115 (the caller closes it)
    stream = io.BufferedReader(raw, buffer_size=1 << 16) if path == "-" else raw
    if _peek(stream, 2) == GZIP_MAGIC:
        return io.BufferedReader(gzip.GzipFile(fileobj=stream), buffer_size=1 << 16)
    return stream


def detect(stream: io.BufferedReader) -> str:
    """The format of a file, from its first bytes."""
    start = _peek(stream, PEEK)
    if start.startswith(SQLITE_MAGIC):
        return "isso"
    text = start.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if text.startswith("<"):
        if "http://disqus.com" in text:
            return "disqus"
        if "wordpress.org/export/" in text:
            return "wordpress"
    elif text.startswith("["):
        return "isso"  # Isso's generic JSON: a list of threads
    elif text.startswith("{"):
        if '"format"' in text and '"comments-api"' in text:
            return "native"
        if '"commentHex"' in text or '"commenters"' in text:
            return "commento"
        if '"version"' in text or '"locator"' in text:
            return "remark42"
    raise ImportRefused("the file's format is not one this service imports; name it with --format")


def _peek(stream, size: int) -> bytes:
    return stream.peek(size)[:size]


def pseudonym(options: Options, address: str | None) -> str | None:
    """The sender's pseudonym, as this service computes it for its own posts, from the address
    the source kept: a spammer who comes back is the same client. Addresses are not stored."""
    address = (address or "").strip()
    return _pseudonym(options.secret_key, address) if options.secret_key and address else None


@lru_cache(maxsize=65536)  # readers come back: each address is worked out once
def _pseudonym(secret_key: str, address: str) -> str | None:
    return client_fingerprint(secret_key, address) if is_address(address) else None


def json_lines(stream) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line of a JSON-lines file; ImportRefused, with
    the line's number, for one that is not a JSON object."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            raise ImportRefused(f"line {number} is not JSON: {error}") from None
        if not isinstance(value, dict):
            raise ImportRefused(f"line {number} is not a JSON object")
        yield number, value


def thread_key(url: str, mode: str) -> str:
    """A page URL as the thread key the widget uses by default (location.pathname, with the
    query if there is one), or the whole URL with --thread-key url. Not a URL: kept as it is."""
    url = url.strip()
    if mode == "url":
        return url
    parts = urlsplit(url)
    if not parts.scheme and not url.startswith("/"):
        return url  # an identifier, not a link
    path = quote(parts.path or "/", safe=PATH_SAFE)
    return f"{path}?{parts.query}" if parts.query else path


def parse_time(text: str | None, what: str) -> datetime:
    """An ISO 8601 / RFC 3339 time; one without a zone is taken as UTC."""
    try:
        if not isinstance(text, str):
            raise ValueError
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what} is not a time: {text!r}") from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def finish_link(link: ThreadLink) -> ThreadLink:
    if link.thread is not None:
        link.thread = normalize(link.thread)
        link.problem = link.problem or _thread_problem(link.thread)
    return link


def finish(record: Record) -> Record:
    """Apply this service's rules to a record a format module made."""
    if record.thread is not None:
        record.thread = normalize(record.thread)
        record.problem = record.problem or _thread_problem(record.thread)
    record.email = _email(record.email)
    if record.status == "deleted":  # a tombstone keeps no words (migrations/0003)
        record.name = record.comment = record.email = None
        record.images, record.notify_replies = [], False
        return record
    record.name = _name(record.name)
    text = INVISIBLE_CONTROLS.sub("", normalize((record.comment or "").replace("\r\n", "\n").replace("\r", "\n")))
    record.comment = text.strip(TRIMMED)
    if problem := (
        "its text must not contain bidirectional control characters"
        if BIDI_CONTROL.search(record.comment)
        else _text_problem(record.comment)
    ):
        record.problem = record.problem or problem
    return record


def _thread_problem(thread: str) -> str | None:
    problem = text_problem(thread, FIELD_LIMITS["thread"])
    return f"its thread key {problem}" if problem else None


def _text_problem(text: str) -> str | None:
    problem = text_problem(text, FIELD_LIMITS["comment"], INVISIBLE_CONTROLS)
    return f"its text {problem}" if problem else None


def _name(name: str | None) -> str:
    """Names are not refused: a missing or unprintable one becomes "Anonymous", a long one is
    shortened (a name is who wrote it, not what they wrote)."""
    name = INVISIBLE_CONTROLS.sub("", normalize(name or "")).replace("\n", " ").replace("\t", " ")
    name = BIDI_CONTROL.sub("", name).strip(TRIMMED)
    limit = FIELD_LIMITS["name"]
    if len(name) > limit:
        name = name[: limit - 1].rstrip(TRIMMED) + "…"
    return name if VISIBLE.search(name) else ANONYMOUS


def _email(email: str | None) -> str | None:
    email = (email or "").strip()
    if len(email) > MAX_EMAIL or not EMAIL.fullmatch(email) or not email.isprintable():
        return None  # not an address: nothing to keep
    return unicodedata.normalize("NFC", email)
