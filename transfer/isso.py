"""Isso: its SQLite database (threads and comments tables), or its generic JSON import format.

In the database, `mode` is 1 (accepted), 2 (waiting for moderation) or 4 (deleted, kept because
it has replies); `parent` is the parent's id; times are Unix seconds. Isso keeps comments as
typed (Markdown): the text is imported as it is. The JSON format (a list of threads, each with
its comments) has no replies nor statuses: every comment is published.
"""

import io
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import orjson

from transfer.sources import SQLITE_MAGIC, ImportRefused, Options, Record, parse_time, pseudonym, thread_key

MODES = {1: "published", 2: "pending", 4: "deleted"}
COMMENTS = """SELECT c.id, c.parent, c.created, c.modified, c.mode, c.remote_addr, c.text, c.author, c.email, t.uri
    FROM comments c JOIN threads t ON t.id = c.tid ORDER BY c.id"""


def read(stream, options: Options) -> Iterator[Record]:
    if stream.peek(len(SQLITE_MAGIC)).startswith(SQLITE_MAGIC):
        with _database_file(stream) as path:
            yield from _from_database(path, options)
    else:
        yield from _from_json(stream, options)


def _from_database(path: str, options: Options) -> Iterator[Record]:
    try:
        database = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            for row in database.execute(COMMENTS):
                yield _database_record(row, options)
        finally:
            database.close()
    except sqlite3.DatabaseError as error:
        raise ImportRefused(f"the file is not an Isso database: {error}") from None


def _database_record(row, options: Options) -> Record:
    comment_id, parent, created, modified, mode, address, text, author, email, uri = row
    return Record(
        source_id=str(comment_id),
        created_at=datetime.fromtimestamp(created, UTC),
        edited_at=datetime.fromtimestamp(modified, UTC) if modified else None,
        status=MODES.get(mode, "pending"),
        thread=thread_key(uri, options.thread_key),
        parent_ref=str(parent) if parent else None,
        name=author,
        email=email,
        comment=text,
        client=pseudonym(options, address),
    )


def _from_json(stream, options: Options) -> Iterator[Record]:
    try:
        threads = orjson.loads(stream.read())
    except orjson.JSONDecodeError as error:
        raise ImportRefused(f"the JSON is malformed: {error}") from None
    if not isinstance(threads, list) or not all(isinstance(thread, dict) for thread in threads):
        raise ImportRefused("the file is not Isso's JSON import format (a list of threads)")
    for thread in threads:
        for comment in thread.get("comments") or []:
            yield _json_record(str(thread.get("id", "")), comment, options)


def _json_record(thread: str, comment: dict, options: Options) -> Record:
    # Comment ids are unique within their thread only.
    record = Record(
        source_id=f"{thread}#{comment.get('id', '')}",
        created_at=None,
        status="published",
        thread=thread_key(thread, options.thread_key),
        name=_string(comment.get("author")),
        email=_string(comment.get("email")),
        comment=_string(comment.get("text")),
        client=pseudonym(options, _string(comment.get("remote_addr"))),
    )
    try:
        record.created_at = parse_time(_string(comment.get("created")), "created")
    except ValueError as error:
        record.problem = str(error)
    return record


def _string(value) -> str | None:
    return value if isinstance(value, str) else None


@contextmanager
def _database_file(stream):
    """SQLite reads files only: standard input is copied to a temporary file first."""
    raw = getattr(stream, "raw", None)
    if isinstance(raw, io.FileIO) and isinstance(raw.name, str) and os.path.isfile(raw.name):
        yield raw.name
        return
    with tempfile.NamedTemporaryFile(suffix=".sqlite3") as copy:
        shutil.copyfileobj(stream, copy)
        copy.flush()
        yield copy.name
