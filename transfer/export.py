"""`pipenv run export [--thread T] [--since TIME] [--private] [--with-images DIR] > backup.jsonl`:
every comment as one JSON line, in an order that re-creates the threads (a parent always before
its replies); with --with-images, the images' objects copied into DIR (transfer/images.py).

The first line names the format and its version; docs/import-export.md has the table of fields.
Words, names and images are exported as stored (erased comments as tombstones, with no words);
e-mail addresses, reply subscriptions and client pseudonyms only with --private. The rows come
through a server-side cursor in batches, so exporting a million comments keeps memory flat.
Its log lines go to stderr, since stdout is the export. Compose:
`docker compose run --rm -T api python -m transfer.export > backup.jsonl`.
"""

import argparse
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import psycopg2

import config
from comment import sql_rfc3339
from core import logs
from core.exceptions import StorageUnavailable
from store.object_store import ObjectStore
from transfer import images

log = logging.getLogger("comments.export")

FORMAT, VERSION = "comments-api", 1
BATCH = 2000  # rows fetched from the server at a time
PUBLIC_FIELDS = ("id", "thread", "parent_id", "name", "comment", "status", "created_at", "edited_at", "images")
PRIVATE_FIELDS = ("email", "notify_replies", "client")
IMAGE_FIELDS = ("key", "content_type", "width", "height", "bytes")  # in this order (jsonb keeps its own)
# Images as their object keys (not URLs, which depend on where the service runs).
COLUMNS = f"""id, thread, parent_id, name, comment, status, {sql_rfc3339("created_at")}, {sql_rfc3339("edited_at")},
    images::text, email, notify_replies, client"""
SELECT = f"""SELECT {COLUMNS} FROM comments WHERE (%(thread)s::text IS NULL OR thread = %(thread)s)
    AND (%(since)s::timestamptz IS NULL OR created_at >= %(since)s) ORDER BY id"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thread", help="only this thread")
    parser.add_argument("--since", type=_time, help="only comments created at or after this ISO 8601 time")
    parser.add_argument("--private", action="store_true", help="also e-mails, subscriptions and client pseudonyms")
    parser.add_argument("--with-images", type=Path, metavar="DIR", help="also copy the images' objects into DIR")
    arguments = parser.parse_args(argv)
    settings = config.load_or_exit()
    logs.configure(settings.log_level, sys.stderr)  # stdout is the export
    out = sys.stdout.buffer
    out.write(header_line(arguments.private))
    count, keys = 0, set()
    try:
        for line, images in comments(settings, arguments.thread, arguments.since, arguments.private):
            out.write(line)
            keys.update(image["key"] for image in images)
            count += 1
    except psycopg2.Error as error:
        log.error("export stopped: the database failed", extra={"reason": str(error).strip(), "exported": count})
        return 1
    out.flush()
    copied = _save_images(settings, keys, arguments.with_images) if arguments.with_images else 0
    if copied is None:
        return 1
    log.info("export finished", extra={"comments": count, "private": arguments.private, "images_copied": copied})
    return 0


def _save_images(settings, keys: set[str], directory: Path) -> int | None:
    """Copy the objects into `directory`; None (and a log line) if there is no bucket or it fails."""
    if not settings.media_bucket:
        log.error("export --with-images: MEDIA_BUCKET is not set, so there are no images to copy")
        return None
    try:
        return images.save(ObjectStore(settings), keys, directory)
    except (StorageUnavailable, OSError) as error:
        log.error("export stopped: the images could not be copied", extra={"reason": str(error)})
        return None


def header(private: bool) -> dict:
    fields = [*PUBLIC_FIELDS, *(PRIVATE_FIELDS if private else ())]
    exported_at = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return {"format": FORMAT, "version": VERSION, "exported_at": exported_at, "fields": fields}


def comments(settings, thread: str | None, since: datetime | None, private: bool) -> Iterator[tuple[bytes, list]]:
    """Each comment's line and images, streamed from a server-side cursor (one read-only
    transaction, so the export is one consistent snapshot)."""
    conn = psycopg2.connect(settings.require_database_url(), connect_timeout=settings.db_connect_timeout)
    try:
        conn.set_session(readonly=True, isolation_level="REPEATABLE READ")
        with conn.cursor(name="export") as cursor:
            cursor.itersize = BATCH
            cursor.execute(SELECT, {"thread": thread, "since": since})
            for row in cursor:
                record = line_of(row, private)
                yield encode(record), record["images"]
    finally:
        conn.close()


def header_line(private: bool) -> bytes:
    return encode(header(private))


def encode(line: dict) -> bytes:
    return orjson.dumps(line) + b"\n"


def line_of(row: tuple, private: bool) -> dict:
    """A row of COLUMNS as its export line."""
    *public, images, email, notify_replies, client = row
    record = dict(zip(PUBLIC_FIELDS[:-1], public, strict=True))
    record["images"] = [{field: image[field] for field in IMAGE_FIELDS} for image in orjson.loads(images)]
    if private:
        record.update(email=email, notify_replies=notify_replies, client=client)
    return record


def _time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time, e.g. 2026-01-31T12:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


if __name__ == "__main__":
    raise SystemExit(main())
