"""`pipenv run import [--format F] [--dry-run] FILE`: bring comments from another service (or
from this one's export) into this one, without losing or duplicating any. FILE may be `-`.

How an import runs, in three steps:
1. Read. The file is streamed (never held whole), each comment cleaned by the same rules
   (sources.py), and copied into a temporary staging table in batches.
2. Resolve, in SQL over the staging table: threads, replies (whatever order the file lists
   them in), orphans, tombstones, what an earlier run already brought, what is refused and why.
   Nothing is written to the service's tables yet, and --dry-run stops here with its summary.
3. Insert, a batch of whole threads per transaction. Each comment is recorded with its source
   and source id (imported_comments) in the same transaction, so a run that was killed halfway
   and is run again adds exactly what is missing, and a second run adds nothing.

An import writes no outbox event (no webhook, no e-mail), is not rate-limited, and changes
nothing that was there before it. The thread counts follow through their triggers.
"""

import argparse
import io
import logging
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import orjson
import psycopg2

import config
from core import formatting, logs
from core.exceptions import StorageUnavailable
from store.object_store import ObjectStore
from transfer import commento, disqus, isso, native, remark42, wordpress
from transfer.images import Restorer
from transfer.progress import Progress
from transfer.sources import ImportRefused, Options, Record, ThreadLink, detect, finish, finish_link, open_input

log = logging.getLogger("comments.import")

FORMATS = {
    "disqus": disqus.read,
    "wordpress": wordpress.read,
    "isso": isso.read,
    "remark42": remark42.read,
    "commento": commento.read,
    "native": native.read,
}
COPY_ROWS = 10_000  # staged per COPY statement
BATCH_ROWS = 10_000  # comments per insert transaction (whole threads: a big thread makes a bigger one)
LOCK_KEY = 0x696D706F7274  # "import": one import at a time
STAGED = (
    "n", "source_id", "thread", "thread_ref", "parent_ref", "name", "email", "comment", "status", "created_at",
    "edited_at", "client", "notify_replies", "images", "keep_id", "problem",
)  # fmt: skip
NEEDS_ESCAPE = re.compile("[\\\\\t\n\r\x00]")

STAGING = """
CREATE TEMP TABLE staged (
    n bigint NOT NULL, source_id text NOT NULL, thread text, thread_ref text, parent_ref text, name text,
    email text, comment text, status text NOT NULL, created_at timestamptz, edited_at timestamptz, client text,
    notify_replies boolean NOT NULL, images jsonb NOT NULL, keep_id bigint, problem text,
    -- What the resolution decides. outcome: NULL (to import), refused, repeated, already or skipped.
    outcome text, parent_n bigint, existing_parent bigint, orphan boolean NOT NULL DEFAULT false,
    new_id bigint, batch integer
);
CREATE TEMP TABLE staged_threads (ref text PRIMARY KEY, thread text, problem text);
-- The batch being inserted, its words rendered (core/formatting.py): only what is imported is rendered.
CREATE TEMP TABLE rendered (n bigint PRIMARY KEY, html text NOT NULL);
"""
# Each step reads what the ones before decided; %(source)s is the source's label. Steps touch
# only the rows they change: a temporary table has no autovacuum, and every rewritten row is
# another row to scan.
RESOLVE = (
    "CREATE INDEX ON staged (n)",
    "CREATE INDEX ON staged (source_id, n)",
    "ANALYZE staged",
    # Disqus: a post whose <thread> came after it in the file.
    """UPDATE staged s SET thread = t.thread, problem = coalesce(s.problem, t.problem)
        FROM staged_threads t WHERE s.thread IS NULL AND t.ref = s.thread_ref""",
    "UPDATE staged SET problem = 'its thread is not in the file' WHERE thread IS NULL AND problem IS NULL",
    "UPDATE staged SET outcome = 'refused' WHERE problem IS NOT NULL",
    # The same comment twice in one file: the first one counts.
    """UPDATE staged s SET outcome = 'repeated' FROM (
        SELECT n, row_number() OVER (PARTITION BY source_id ORDER BY n) AS nth FROM staged
    ) seen WHERE seen.n = s.n AND seen.nth > 1 AND s.outcome IS NULL""",
    # Brought by an earlier run (new_id NULL: it was erased since, and stays erased).
    """UPDATE staged s SET outcome = 'already', new_id = i.comment_id FROM imported_comments i
        WHERE s.outcome IS NULL AND i.source = %(source)s AND i.source_id = s.source_id""",
    # A parent in the file, in the same thread...
    """UPDATE staged s SET parent_n = p.n FROM staged p
        WHERE s.outcome IS NULL AND s.parent_ref IS NOT NULL AND p.source_id = s.parent_ref AND p.outcome IS NULL
        AND p.thread = s.thread""",
    # ...or one an earlier run imported, still here.
    """UPDATE staged s SET existing_parent = c.id FROM imported_comments i JOIN comments c ON c.id = i.comment_id
        WHERE s.outcome IS NULL AND s.parent_ref IS NOT NULL AND s.parent_n IS NULL AND i.source = %(source)s
        AND i.source_id = s.parent_ref AND c.thread = s.thread""",
    """UPDATE staged SET orphan = true WHERE outcome IS NULL AND parent_ref IS NOT NULL AND parent_n IS NULL
        AND existing_parent IS NULL""",
    "CREATE INDEX ON staged (parent_n) WHERE parent_n IS NOT NULL",
    "ANALYZE staged",
    # Each comment's depth, walking down from the top-level ones, and the latest time on its way
    # down (a reply dated before its parent, as clocks sometimes had it, still follows it).
    """CREATE TEMP TABLE placed AS WITH RECURSIVE reached AS (
        SELECT n, 0 AS depth, created_at AS after FROM staged WHERE outcome IS NULL AND parent_n IS NULL
        UNION ALL SELECT s.n, r.depth + 1, greatest(r.after, s.created_at)
        FROM reached r JOIN staged s ON s.parent_n = r.n WHERE s.outcome IS NULL
    ) SELECT * FROM reached""",
    "CREATE INDEX ON placed (n)",
    "ANALYZE placed",
    # Replies whose chain of parents loops (a corrupt file) are never reached: they become
    # top-level comments, counted as orphans.
    """UPDATE staged s SET parent_n = NULL, orphan = true
        WHERE s.outcome IS NULL AND NOT EXISTS (SELECT 1 FROM placed p WHERE p.n = s.n)""",
    """INSERT INTO placed (n, depth, after) SELECT n, 0, created_at FROM staged s
        WHERE s.outcome IS NULL AND NOT EXISTS (SELECT 1 FROM placed p WHERE p.n = s.n)""",
)
# A deleted comment is kept as a tombstone only above a reply that is kept. Level by level from
# the deepest, a deleted comment left with no reply is skipped (then so may be its parent).
DELETED_DEPTHS = """SELECT DISTINCT p.depth FROM staged s JOIN placed p ON p.n = s.n
    WHERE s.outcome IS NULL AND s.status = 'deleted' ORDER BY p.depth DESC"""
SKIP_LONELY_DELETED = """UPDATE staged d SET outcome = 'skipped' FROM placed p
    WHERE p.n = d.n AND p.depth = %(depth)s AND d.outcome IS NULL AND d.status = 'deleted'
    AND NOT EXISTS (SELECT 1 FROM staged r WHERE r.parent_n = d.n AND r.outcome IS NULL)"""
SUMMARY = """SELECT
    count(*) FILTER (WHERE outcome IS NULL),
    count(*) FILTER (WHERE outcome IN ('already', 'repeated')),
    count(*) FILTER (WHERE outcome IS NULL AND (parent_n IS NOT NULL OR existing_parent IS NOT NULL)),
    count(*) FILTER (WHERE outcome IS NULL AND status = 'deleted'),
    count(*) FILTER (WHERE outcome IS NULL AND orphan),
    count(*) FILTER (WHERE outcome IS NULL AND status = 'rejected'),
    count(*) FILTER (WHERE outcome IS NULL AND status = 'pending'),
    count(*) FILTER (WHERE outcome = 'skipped'),
    (SELECT count(*) FROM (SELECT DISTINCT thread FROM staged WHERE outcome IS NULL) t
        WHERE NOT EXISTS (SELECT 1 FROM comments c WHERE c.thread = t.thread))
    FROM staged"""
SUMMARY_FIELDS = ("imported", "already_there", "replies", "tombstones", "orphans", "rejected", "pending",
                  "deleted_without_replies", "threads_made")  # fmt: skip
REFUSED = "SELECT source_id, problem FROM staged WHERE outcome = 'refused' ORDER BY n"

SEQUENCE = "SELECT pg_get_serial_sequence('comments', 'id')"
# A restored backup keeps its ids where they are free. The sequence is moved past them first,
# so that no new post can take one of them while the import runs.
KEEP_IDS = (
    """SELECT setval(%(sequence)s, highest) FROM (SELECT max(keep_id) AS highest FROM staged WHERE outcome IS NULL) k
        WHERE highest > coalesce(pg_sequence_last_value(%(sequence)s::regclass), 0)""",
    """UPDATE staged s SET new_id = keep_id WHERE outcome IS NULL AND keep_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM comments c WHERE c.id = s.keep_id)""",
)
# The other comments get new ids in time order, a parent always before its replies (the export
# lists comments by id); and a batch: whole threads, about %(rows)s comments per transaction.
NUMBER = """WITH numbered AS (
        SELECT n, CASE WHEN kept IS NULL THEN nextval(%(sequence)s) END AS id FROM (
            SELECT p.n, s.new_id AS kept FROM placed p JOIN staged s ON s.n = p.n WHERE s.outcome IS NULL
            ORDER BY p.after, p.depth, p.n
        ) in_order
    ), sizes AS (
        SELECT thread, count(*) AS size FROM staged WHERE outcome IS NULL GROUP BY thread
    ), batches AS (
        SELECT thread, (sum(size) OVER (ORDER BY thread) - 1) / %(rows)s AS batch FROM sizes
    )
    UPDATE staged s SET new_id = coalesce(s.new_id, numbered.id), batch = batches.batch
    FROM numbered, batches WHERE numbered.n = s.n AND batches.thread = s.thread"""
AFTER_NUMBERING = ("VACUUM ANALYZE staged", "CREATE INDEX ON staged (batch) WHERE outcome IS NULL")
BATCH_NUMBERS = "SELECT batch, count(*) FROM staged WHERE outcome IS NULL GROUP BY batch ORDER BY batch"
# An imported comment takes the txid of the first comment written after it, or the import's own
# (`key`) when there is none, and its created_at orders it there: see migrations/0011.
TO_RENDER = "SELECT n, comment FROM staged WHERE batch = %(batch)s AND outcome IS NULL AND comment IS NOT NULL"
INSERT = """WITH batch AS (
        SELECT s.*, p.new_id AS staged_parent, r.html,
            coalesce((SELECT c.txid FROM comments c WHERE c.created_at > s.created_at ORDER BY c.created_at LIMIT 1),
                %(key)s) AS listing_txid
        FROM staged s LEFT JOIN staged p ON p.n = s.parent_n LEFT JOIN rendered r ON r.n = s.n
        WHERE s.batch = %(batch)s AND s.outcome IS NULL
    ), inserted AS (
        INSERT INTO comments (id, txid, thread, parent_id, name, comment, html, status, created_at, edited_at, email,
            notify_replies, client, images)
        OVERRIDING SYSTEM VALUE
        SELECT new_id, listing_txid, thread, coalesce(staged_parent, existing_parent), name, comment, html, status,
            created_at, edited_at, email, notify_replies, client, images
        FROM batch ORDER BY new_id
        RETURNING id
    ), recorded AS (
        INSERT INTO imported_comments (source, source_id, comment_id) SELECT %(source)s, source_id, new_id FROM batch
    )
    SELECT count(*) FROM inserted"""
# Images of a restored backup: the media rows claimed (media/storage.py: a claimed row is not
# collected) and linked, in the same transaction as the comments.
CLAIM_MEDIA = """INSERT INTO media (key) SELECT DISTINCT image ->> 'key'
    FROM staged s, jsonb_array_elements(s.images) AS image WHERE s.batch = %(batch)s AND s.outcome IS NULL
    ON CONFLICT (key) DO UPDATE SET claimed_at = now()"""
LINK_MEDIA = """INSERT INTO comment_media (comment_id, media_id)
    SELECT s.new_id, m.id FROM staged s, jsonb_array_elements(s.images) AS image JOIN media m ON m.key = image ->> 'key'
    WHERE s.batch = %(batch)s AND s.outcome IS NULL ON CONFLICT DO NOTHING"""


def main(argv: list[str] | None = None) -> int:
    arguments = _arguments(argv)
    settings = config.load_or_exit()
    logs.configure(settings.log_level, sys.stderr)  # stdout is the summary
    started = time.monotonic()
    try:
        with _input(arguments.file) as stream:
            form = arguments.format or detect(stream)
            options = Options(thread_key=arguments.thread_key, secret_key=settings.secret_key)
            store = ObjectStore(settings) if settings.media_bucket else None
            run = Import(_connect(settings), options, arguments.batch_rows, arguments.dry_run)
            run.store, run.images_folder = store, arguments.with_images
            summary = run.run(form, FORMATS[form](stream, options), arguments.source, _position(stream, arguments.file))
    except ImportRefused as error:
        print(f"import refused: {error}", file=sys.stderr)
        log.error("import refused", extra={"reason": str(error)})
        return 1
    except StorageUnavailable:
        print("import stopped: the object store failed (run it again: it resumes)", file=sys.stderr)
        log.error("import stopped: the object store failed")
        return 1
    except psycopg2.Error as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"import stopped: the database failed: {reason} (run it again: it resumes)", file=sys.stderr)
        log.error("import stopped: the database failed", extra={"reason": reason})
        return 1
    summary["seconds"] = round(time.monotonic() - started, 1)
    print(render(summary, arguments.dry_run))
    log.info("import finished", extra={**summary, "refused": len(summary["refused"]), "dry_run": arguments.dry_run})
    return 0


class Import:
    def __init__(self, conn, options: Options, batch_rows: int = BATCH_ROWS, dry_run: bool = False):
        self.conn, self.options, self.batch_rows, self.dry_run = conn, options, batch_rows, dry_run
        self.threads: dict[str, ThreadLink] = {}
        # Where a backup's images go and may come from (export --with-images DIR); without a
        # bucket they are left out, and counted.
        self.store: ObjectStore | None = None
        self.images_folder: Path | None = None
        self._restorer = None

    def run(self, form: str, items: Iterable[Record | ThreadLink], source: str | None, position) -> dict:
        try:
            with self.conn.cursor() as cursor:
                self._lock(cursor)
                cursor.execute(STAGING)
                clock = _Clock()
                self._stage(cursor, items, position)
                clock.lap("read")
                label = source or (f"{form}:{self.options.site}" if self.options.site else form)
                self._resolve(cursor, label)
                summary = self._summary(cursor, form, label)
                clock.lap("resolve")
                if not self.dry_run:
                    summary["imported"] = self._insert(cursor, label)
                    clock.lap("insert")
            return {**summary, "phase_seconds": clock.laps}
        finally:
            self.conn.close()

    def _lock(self, cursor) -> None:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
        if not cursor.fetchone()[0] and not self.dry_run:
            raise ImportRefused("another import is running; run this one when it has finished")

    def _stage(self, cursor, items: Iterable[Record | ThreadLink], position) -> None:
        progress = Progress("reading", position)
        for lines in _chunks(self._lines(items), COPY_ROWS):
            cursor.copy_expert(f"COPY staged ({', '.join(STAGED)}) FROM STDIN", io.BytesIO("".join(lines).encode()))
            progress.advance(len(lines))
        progress.finish()
        threads = "".join(_copy_line((link.ref, link.thread, link.problem)) for link in self.threads.values())
        cursor.copy_expert("COPY staged_threads (ref, thread, problem) FROM STDIN", io.BytesIO(threads.encode()))

    def _lines(self, items: Iterable[Record | ThreadLink]) -> Iterator[str]:
        for n, item in enumerate(items):
            if isinstance(item, ThreadLink):
                self.threads.setdefault(item.ref, finish_link(item))
                continue
            if item.thread is None and (link := self.threads.get(item.thread_ref)):
                item.thread, item.problem = link.thread, item.problem or link.problem
            record = finish(item)
            if record.images:
                record.images = self._images().keep(record.images)
            yield _copy_line((n, *(getattr(record, column) for column in STAGED[1:])))

    def _images(self) -> Restorer:
        if self._restorer is None:  # made for the first record with images: most imports have none
            cursor = self.conn.cursor()
            self._restorer = Restorer(self.store, self.images_folder, cursor, self.options.skipped, self.dry_run)
        return self._restorer

    def _resolve(self, cursor, source: str) -> None:
        for statement in RESOLVE:
            cursor.execute(statement, {"source": source})
        cursor.execute(DELETED_DEPTHS)
        for (depth,) in cursor.fetchall():
            cursor.execute(SKIP_LONELY_DELETED, {"depth": depth})

    def _summary(self, cursor, form: str, source: str) -> dict:
        cursor.execute(SUMMARY)
        summary = dict(zip(SUMMARY_FIELDS, cursor.fetchone(), strict=True))
        cursor.execute(REFUSED)
        refused = [{"source_id": source_id, "problem": problem} for source_id, problem in cursor.fetchall()]
        skipped = {"deleted without replies": summary.pop("deleted_without_replies"), **self.options.skipped}
        return {"format": form, "source": source, **summary, "skipped": skipped, "refused": refused}

    def _insert(self, cursor, source: str) -> int:
        cursor.execute(SEQUENCE)
        sequence = {"sequence": cursor.fetchone()[0]}
        for statement in KEEP_IDS:
            cursor.execute(statement, sequence)
        cursor.execute(NUMBER, {**sequence, "rows": self.batch_rows})
        for statement in AFTER_NUMBERING:
            cursor.execute(statement)
        cursor.execute(BATCH_NUMBERS)
        batches = cursor.fetchall()
        total = sum(size for _, size in batches)
        progress = Progress("importing", lambda: progress.count / total if total else 1.0)
        key, inserted = None, 0
        self.conn.autocommit = False
        for batch, _ in batches:
            if key is None:  # the first transaction's id: where comments newer than all others go
                cursor.execute("SELECT pg_current_xact_id()::text::bigint")
                key = cursor.fetchone()[0]
            params = {"batch": batch, "source": source, "key": key}
            self._render(cursor, params)
            cursor.execute(INSERT, params)
            count = cursor.fetchone()[0]
            cursor.execute(CLAIM_MEDIA, params)
            cursor.execute(LINK_MEDIA, params)
            self.conn.commit()
            inserted += count
            progress.advance(count)
        progress.finish()
        return inserted

    @staticmethod
    def _render(cursor, params: dict) -> None:
        """The batch's words rendered as a post's are, into `rendered`, for INSERT to take."""
        cursor.execute("TRUNCATE rendered")
        cursor.execute(TO_RENDER, params)
        lines = "".join(_copy_line((n, formatting.render(text))) for n, text in cursor.fetchall())
        cursor.copy_expert("COPY rendered (n, html) FROM STDIN", io.BytesIO(lines.encode()))


class _Clock:
    """Seconds spent in each step, for the summary's log line (and the benchmark)."""

    def __init__(self):
        self.laps, self.last = {}, time.monotonic()

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.laps[name], self.last = round(now - self.last, 1), now


def render(summary: dict, dry_run: bool) -> str:
    """The summary for people: what was (or, with --dry-run, would be) done, and what was refused."""
    verb = "would import" if dry_run else "imported"
    reasons = ", ".join(f"{reason} {count:,}" for reason, count in summary["skipped"].items() if count)
    lines = [
        f"{summary['format']} file, source {summary['source']!r}: {verb} {summary['imported']:,} comments"
        + (f" in {summary['seconds']} s" if "seconds" in summary else ""),
        f"  {verb + ':':<16}{summary['imported']:>10,}  (replies {summary['replies']:,}, tombstones"
        f" {summary['tombstones']:,}, orphans {summary['orphans']:,}, rejected {summary['rejected']:,},"
        f" pending {summary['pending']:,})",
        f"  {'already there:':<16}{summary['already_there']:>10,}",
        f"  {'threads made:':<16}{summary['threads_made']:>10,}",
        f"  {'skipped:':<16}{sum(summary['skipped'].values()):>10,}" + (f"  ({reasons})" if reasons else ""),
        f"  {'refused:':<16}{len(summary['refused']):>10,}",
    ]
    lines += [f"    {item['source_id']}: {item['problem']}" for item in summary["refused"]]
    return "\n".join(lines)


def _copy_line(values: tuple) -> str:
    return "\t".join(map(_copy_value, values)) + "\n"


def _copy_value(value) -> str:
    if isinstance(value, str):
        return _escaped(value) if NEEDS_ESCAPE.search(value) else value
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return _copy_value(orjson.dumps(value).decode()) if value else "[]"
    return str(value)


def _escaped(text: str) -> str:
    """COPY's text format: backslash escapes (chained replaces: several times faster than
    str.translate on non-ASCII text). A NUL, which PostgreSQL cannot store, becomes U+FFFD."""
    text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text.replace("\x00", "\ufffd")


def _chunks(lines: Iterator[str], size: int) -> Iterator[list[str]]:
    chunk = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _connect(settings):
    conn = psycopg2.connect(
        settings.require_database_url(),
        connect_timeout=settings.db_connect_timeout,
        application_name="comments-import",
        # A one-off task: its statements may run long; the staging table gets room to work in memory.
        options="-c statement_timeout=0 -c temp_buffers=256MB -c work_mem=64MB",
    )
    conn.autocommit = True
    return conn


@contextmanager
def _input(path: str) -> Iterator[io.BufferedReader]:
    """The file, opened (and gunzipped) for reading, closed afterwards; a missing file is refused."""
    try:
        stream = open_input(path)
    except OSError as error:
        raise ImportRefused(f"cannot read {path}: {error.strerror}") from None
    try:
        yield stream
    finally:
        if path != "-":
            stream.close()


def _position(stream, path: str):
    """How far through the file reading is (for the time left), when its size is known."""
    raw = stream.raw if hasattr(stream, "raw") else stream
    while hasattr(raw, "fileobj") and raw.fileobj is not None:  # gzip: the compressed file's position
        raw = raw.fileobj
    try:
        size = os.path.getsize(path) if path != "-" else 0
    except OSError:
        size = 0
    if not size:
        return lambda: None
    return lambda: min(1.0, raw.tell() / size)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="import", description=__doc__.splitlines()[0])
    parser.add_argument("file", metavar="FILE", help="the export to import, or - for standard input")
    parser.add_argument(
        "--format", choices=sorted(FORMATS), help="the file's format (found from its content if not given)"
    )
    parser.add_argument("--dry-run", action="store_true", help="show what would be imported and refused, write nothing")
    thread_key = "a thread is its page's path and query (the widget's default) or its whole URL"
    parser.add_argument("--thread-key", choices=("path", "url"), default="path", help=thread_key)
    parser.add_argument("--source", help="the label recording where comments came from (default: format and site)")
    parser.add_argument("--with-images", type=Path, metavar="DIR", help="a backup's images (export --with-images)")
    parser.add_argument("--batch-rows", type=_positive, default=BATCH_ROWS, help="comments per insert transaction")
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


if __name__ == "__main__":
    raise SystemExit(main())
