"""CommentDatabase: the thin wrapper that owns every SQL statement the comments API runs.

Each call is one autocommit statement, so every request is one short transaction that has
committed by the time the call returns. Connections come from a per-process pool that is
created on first use, i.e. after gunicorn has forked the worker.

Every statement is prepared once per connection, when the connection opens, so PostgreSQL
parses and plans each query once per connection instead of once per request.
"""

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from itertools import product

import orjson
import psycopg2
import psycopg2.errors
import psycopg2.extras
from flask import current_app

from comment import PUBLIC_STATUSES, WITHDRAWN_WORDS, Comment, NewComment, Position, Rank, sql_rfc3339
from core import formatting
from core.exceptions import (
    Conflict,
    DatabaseMisconfigured,
    DatabaseUnavailable,
    ParentNotFound,
    RateLimited,
    SchemaNotReady,
    StorageUnavailable,
)
from core.spam import DUPLICATE_WINDOW
from store import outbox, rate_limits
from store.pool import ConnectionPool, PoolTimeout
from store.replica import NOTE_WRITE, Reader, Replica

# A Comment's fields but its images, whose URLs depend on who reads (moderation.py).
FIELDS_BUT_IMAGES = (
    "id, thread, parent_id, name, comment, html, status,"
    f" {sql_rfc3339('created_at')} AS created_at, {sql_rfc3339('edited_at')} AS edited_at"
)
# What follows the images: the vote counts (migrations/0019).
AFTER_IMAGES = "upvotes, downvotes"


def images_sql(urls: str = "media_urls(images)") -> str:
    """A comment's images with their URLs. Most comments have none, and media_urls() (a SQL
    function PostgreSQL cannot inline) cost about 15 µs a row even then: 0.3 ms of a page's
    0.35 ms in PostgreSQL. The CASE answers those without calling it."""
    return f"CASE WHEN images = '[]'::jsonb THEN '[]'::json ELSE {urls} END AS images"


COLUMNS = f"{FIELDS_BUT_IMAGES}, {images_sql()}, {AFTER_IMAGES}"
_PUBLIC = f"status IN {PUBLIC_STATUSES}"
# In ORDER BY a bare "created_at" names the formatted output column (text), which no index
# holds: every listing then sorted its whole thread. Qualified, it is the indexed timestamp.
# Transactions below this id have finished for every snapshot: see migrations/0002.
_XMIN = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
_SETTLED = f"txid < {_XMIN}"
# A thread's version (migrations/0017), and whether every change it counts is settled (listed).
_THREAD_VERSION = (
    f"SELECT coalesce(sum(version), 0)::bigint AS version, coalesce(max(txid), 0) < {_XMIN} AS settled"
    " FROM thread_counts WHERE thread = $1"
)


def _page_sql(by_thread: bool, after: bool, newest_first: bool) -> str:
    """One keyset-paging query over the (thread, txid, created_at, id) or (txid, created_at, id) index."""
    conditions, n = [_SETTLED, _PUBLIC], 0
    if by_thread:
        n += 1
        conditions.append(f"thread = ${n}")
    if after:
        conditions.append(f"(txid, created_at, id) {'<' if newest_first else '>'} (${n + 1}, ${n + 2}, ${n + 3})")
        n += 3
    direction = "DESC" if newest_first else "ASC"
    page = (
        f"SELECT {COLUMNS}, txid FROM comments WHERE {' AND '.join(conditions)}"
        f" ORDER BY txid {direction}, comments.created_at {direction}, id {direction} LIMIT ${n + 1}"
    )
    if not by_thread:
        return page
    # The thread's version in the page's own snapshot (one row even for an empty page): the
    # ETag then names exactly what the page shows. One outer row, so the page keeps its order.
    return f"SELECT version.*, page.* FROM ({_THREAD_VERSION}) AS version LEFT JOIN LATERAL ({page}) AS page ON true"


def _top_sql(after: bool) -> str:
    """order=top: up to $n top-level comments by (-score, id), keyset-paged on the comments_top_idx
    index (migrations/0019), each followed by its replies at any depth in listing order. One more
    top-level comment than asked is read, to know whether there is more; its replies are not."""
    beyond = "AND (-score, id) > (-$2::float8, $3)" if after else ""
    n = "$4" if after else "$2"
    return f"""WITH RECURSIVE roots AS (
        SELECT id, score, row_number() OVER (ORDER BY -score, id) AS rank FROM (
            SELECT id, score FROM comments WHERE thread = $1 AND parent_id IS NULL AND {_PUBLIC} {beyond}
            ORDER BY -score, id LIMIT {n} + 1
        ) AS best
    ), tree AS (
        SELECT c.id, r.rank FROM comments c JOIN roots r ON c.parent_id = r.id WHERE r.rank <= {n}
        UNION ALL
        SELECT c.id, t.rank FROM comments c JOIN tree t ON c.parent_id = t.id
    ), listed AS (
        SELECT id, rank, true AS root, score FROM roots WHERE rank <= {n}
        UNION ALL
        SELECT id, rank, false, NULL FROM tree
    )
    SELECT {COLUMNS}, listed.root, listed.score, (SELECT count(*) FROM roots) > {n}
    FROM listed JOIN comments USING (id) WHERE {_PUBLIC}
    ORDER BY listed.rank, NOT listed.root, comments.txid, comments.created_at, comments.id"""


# Where a thread's listing ends now: what a reader of order=top polls from for new comments.
_THREAD_END = f"""SELECT txid, {sql_rfc3339("created_at")}, id FROM comments
    WHERE thread = $1 AND {_SETTLED} AND {_PUBLIC} ORDER BY txid DESC, comments.created_at DESC, id DESC LIMIT 1"""


def _page_name(by_thread: bool, after: bool, newest_first: bool) -> str:
    return (
        f"page_{'thread' if by_thread else 'all'}_{'after' if after else 'first'}_{'desc' if newest_first else 'asc'}"
    )


def _insert_sql(limited: bool) -> str:
    """A new comment, admitted in one statement (one round trip, one commit): the rate limit
    (store/rate_limits.py), the duplicate rule (core/spam.py) and a visible parent, then the insert and its
    events (store/outbox.py), in the same transaction. Always answers one row: allowed, duplicate,
    parent visible, the workers' notification, then the comment or NULLs.

    $1 thread, $2 parent_id, $3 name, $4 comment, $5 status, $6 edit token hash, $7 client,
    $8 seconds per post, $9 period in seconds, $10 e-mail, $11 notify_replies, $12 images (as
    comments.images holds them), $13 their media ids (media.py), $14 the rule that held it,
    $15 the comment rendered (core/formatting.py)."""
    limiter = rate_limits.LIMITER_CTE if limited else rate_limits.UNLIMITED_CTE
    limiter = limiter.replace("$client", "$7").replace("$interval", "$8").replace("$period", "$9")
    return f"""WITH {limiter},
    duplicate AS (
        SELECT 1 FROM comments WHERE client = $7 AND thread = $1 AND md5(comment) = md5($4) AND comment = $4
        AND created_at > now() - interval '{DUPLICATE_WINDOW}' LIMIT 1
    ),
    parent AS (
        SELECT $2 IS NULL OR EXISTS (
            SELECT 1 FROM comments WHERE id = $2 AND thread = $1 AND status = 'published'
        ) AS visible
    ),
    inserted AS (
        INSERT INTO comments (thread, parent_id, name, comment, status, edit_token_hash, client, email,
            notify_replies, images, held_by, html)
        SELECT $1, $2, $3, $4, $5, $6, $7, $10, $11, $12, $14, $15
        WHERE EXISTS (SELECT FROM allowed) AND NOT EXISTS (SELECT FROM duplicate) AND (SELECT visible FROM parent)
        RETURNING {COLUMNS}
    ),
    linked AS (
        INSERT INTO comment_media (comment_id, media_id)
        SELECT inserted.id, media_id FROM inserted, unnest($13::bigint[]) AS media_id ON CONFLICT DO NOTHING
    ),
    {outbox.EVENTS_OF_INSERTED}
    SELECT EXISTS (SELECT FROM allowed), EXISTS (SELECT FROM duplicate), (SELECT visible FROM parent),
        {outbox.NOTIFY_IF_EVENTS}, inserted.*
    FROM (SELECT) AS one LEFT JOIN inserted ON true"""


STATEMENTS = {
    "insert_limited": _insert_sql(limited=True),
    "insert_unlimited": _insert_sql(limited=False),
    "select_comment": f"SELECT {COLUMNS} FROM comments WHERE id = $1 AND {_PUBLIC}",
    "thread_version": _THREAD_VERSION,
    "thread_end": _THREAD_END,
    "top_first": _top_sql(after=False),
    "top_after": _top_sql(after=True),
    # A hidden comment has no position to the public: as if it never existed.
    "select_position": f"SELECT txid, {sql_rfc3339('created_at')}, id FROM comments WHERE id = $1 AND {_PUBLIC}",
    **{_page_name(*variant): _page_sql(*variant) for variant in product((False, True), repeat=3)},
}
# Run on every new connection: prepare all statements, and report what the service relies on.
# Declared where PostgreSQL could not infer them (a parameter the unlimited insert never uses).
_PARAMETER_TYPES = {
    **dict.fromkeys(
        ("insert_limited", "insert_unlimited"),
        "(text, bigint, text, text, text, bytea, text, float8, int, text, boolean, jsonb, bigint[], text, text)",
    ),
    "top_first": "(text, int)",
    "top_after": "(text, float8, bigint, int)",
}
_PREPARE = ";".join(f"PREPARE {name} {_PARAMETER_TYPES.get(name, '')} AS {sql}" for name, sql in STATEMENTS.items())
_SERVER_ENCODING = "SELECT current_setting('server_encoding')"
# Not prepared: schema_migrations may not exist yet, and /readyz is no hot path.
_APPLIED_MIGRATIONS = "SELECT version FROM schema_migrations"
_READ_ONLY = "SELECT current_setting('transaction_read_only') = 'on'"
# What a missing table, column or function looks like: the schema is behind the code.
_NOT_MIGRATED = (psycopg2.errors.UndefinedTable, psycopg2.errors.UndefinedColumn, psycopg2.errors.UndefinedFunction)
# A server that answers but cannot take writes: a standby after failover, or read-only by setting.
_READ_ONLY_ERRORS = (psycopg2.errors.ReadOnlySqlTransaction,)


# JSON from the database (images) decoded by orjson: several times faster than the standard library.
psycopg2.extras.register_default_json(globally=True, loads=orjson.loads)
psycopg2.extras.register_default_jsonb(globally=True, loads=orjson.loads)
# The foreign key that fails when an image's row was deleted while the comment was being posted.
_MEDIA_GONE = "comment_media_media_id_fkey"


@dataclass(frozen=True)
class Page:
    comments: list[Comment]
    more: bool  # whether comments beyond this page were already there
    last: Position | None  # the ordering key of the last comment returned
    version: int | None = None  # the thread's version (migrations/0017); None: no thread, or not settled


@dataclass(frozen=True)
class TopPage:
    comments: list[Comment]  # top-level comments, each followed by its replies
    more: bool
    last: Rank | None  # the last top-level comment's rank: where the next page starts
    end: Position | None  # where the thread's listing ends now (None: no comment yet)
    version: int | None  # as Page.version


class CommentDatabase:
    def __init__(
        self,
        url: str,
        *,
        pool_size: int,
        connect_timeout: int,
        statement_timeout_ms: int,
        pool_timeout: float,
        media_base: str = "/media/",
        replica_url: str | None = None,
        replica_max_lag: float = 5.0,
    ):
        self._connect_kwargs = dict(
            dsn=url,
            connect_timeout=connect_timeout,
            application_name="comments-api",
            # comments.media_base: the URL prefix of images (migrations/0005, media_urls()).
            # plan_cache_mode: the prepared statements keep one plan. Left to choose, PostgreSQL
            # planned the page statement again at every EXECUTE (0.2 ms, three times its 0.06 ms
            # of execution); every statement here walks the same index whatever its parameters.
            options=f"-c statement_timeout={statement_timeout_ms} -c lock_timeout={statement_timeout_ms}"
            f" -c comments.media_base={media_base} -c plan_cache_mode=force_generic_plan",
            # Notice a vanished server on an idle or half-open connection instead of hanging.
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=2,
            tcp_user_timeout=statement_timeout_ms + connect_timeout * 1000,
        )
        self._pool_size = pool_size
        self._pool_timeout = pool_timeout
        self._dsns = {"primary": url, **({"replica": replica_url} if replica_url else {})}
        self._pools: dict[str, ConnectionPool] = {}
        self._pool_pid = None
        self._pool_lock = threading.Lock()
        self.replica = None
        if replica_url:
            self.replica = Replica(
                lambda sql, params: self._run(sql, params),
                lambda sql, params: self._run(sql, params, pool="replica"),
                replica_max_lag,
            )

    def add(
        self,
        new: NewComment,
        *,
        status: str,
        token_hash: bytes,
        client: str,
        limit: tuple[int, int] | None,
        images: list[dict] = (),
        media_ids: list[int] = (),
        held_by: str | None = None,
        cursor=None,
    ) -> Comment:
        """Store a new comment, unless its client is over the limit (RateLimited), it repeats the
        client's recent comment in this thread (Conflict), or its parent is not visible. With a
        cursor, inside the caller's transaction (idempotency.py); else it commits at once."""
        interval, period = rate_limits.interval_and_period(limit) if limit else (0.0, 0)
        params = (
            *(new.thread, new.parent_id, new.name, new.comment, status, token_hash, client, interval, period),
            *(new.email, new.notify_replies, orjson.dumps(images).decode(), list(media_ids), held_by),
            formatting.render(new.comment),
        )
        try:
            allowed, duplicate, parent_visible, _notified, *row = self._execute(
                "insert_limited" if limit else "insert_unlimited", params, one=True, cursor=cursor
            )
        except psycopg2.errors.ForeignKeyViolation as error:
            if error.diag.constraint_name == _MEDIA_GONE:  # an identical image was being deleted
                raise StorageUnavailable("An image was being removed as you posted; post again.") from None
            raise ParentNotFound() from None  # the parent was erased meanwhile
        if not allowed:
            raise RateLimited(self._retry_after(client, interval, period, cursor))
        if duplicate:
            raise Conflict("You already posted this comment here.", code="duplicate_comment")
        if not parent_visible:
            raise ParentNotFound()
        self._prune_limits_now_and_then(limit, cursor)
        return Comment(*row)

    def charge(self, client: str, limit: tuple[int, int] | None, *, cursor=None) -> None:
        """Count one write against the client's limit now, or raise RateLimited: for writes
        that cost work before their statement decides (a post's images, an edit). With a
        cursor, inside the caller's transaction (so it is undone if the write rolls back)."""
        if not limit:
            return
        interval, period = rate_limits.interval_and_period(limit)
        params = {"client": client, "interval": interval, "period": period}
        (allowed,) = self._statement(rate_limits.CHARGE, params, cursor, one=True)
        if not allowed:
            raise RateLimited(self._retry_after(client, interval, period, cursor))
        self._prune_limits_now_and_then(limit, cursor)

    def note_write(self, client: str, *, cursor=None) -> None:
        """Before answering a write: the client's next reads go to the primary (replica.py).
        With a cursor, in the write's own transaction (one request, one connection)."""
        if self.replica:
            self._statement(NOTE_WRITE, (client,), cursor, rows=False)

    def _retry_after(self, client: str, interval: float, period: int, cursor) -> int:
        row = self._statement(rate_limits.RETRY_AFTER, (interval, period, client), cursor, one=True)
        return row[0] if row else 1

    def _prune_limits_now_and_then(self, limit, cursor) -> None:
        # On the caller's connection: a prune on another one would wait for the row lock that
        # this very transaction holds on the client's limiter row (until lock_timeout).
        if limit and rate_limits.should_prune():
            self._statement(rate_limits.PRUNE, (), cursor, rows=False)

    def _statement(
        self, sql: str, params: tuple, cursor, *, one: bool = False, rows: bool = True, pool: str = "primary"
    ):
        """One statement on the caller's cursor (its transaction), or autocommit on the pool."""
        if cursor is None:
            return self._run(sql, params, one=one, rows=rows, pool=pool)
        cursor.execute(sql, params)
        if not rows:
            return None
        return cursor.fetchone() if one else cursor.fetchall()

    def get(self, comment_id: int, *, reader: Reader = None) -> Comment | None:
        row = self._read("select_comment", (comment_id,), one=True, reader=reader)
        return Comment(*row) if row else None

    def position_of(self, comment_id: int, *, reader: Reader = None) -> Position | None:
        """The ordering key of a comment (to honour a v1 cursor, which named only an id)."""
        row = self._read("select_position", (comment_id,), one=True, reader=reader)
        return Position(*row) if row else None

    def read_query(self, sql: str, params: tuple = (), *, reader: Reader = None):
        """A feature module's read-only statement, on the replica when it may serve the reader."""
        return self._on_reader(lambda pool: self._run(sql, params, pool=pool), reader)

    def page(
        self, *, thread: str | None, after: Position | None, limit: int, newest_first: bool, reader: Reader = None
    ) -> Page:
        """Up to `limit` comments in (txid, created_at, id) order, strictly beyond `after` (keyset paging).

        Only comments of settled transactions are listed, so a comment committed later can
        never land behind a position a reader has already passed: every comment is seen once.
        """
        name = _page_name(thread is not None, after is not None, newest_first)
        beyond = (after.txid, after.created_at, after.id) if after else ()
        params = (*((thread,) if thread is not None else ()), *beyond, limit + 1)
        rows = self._read(name, params, reader=reader)
        version = None
        if thread is not None:
            version, settled = rows[0][:2]
            version = version if settled else None
            rows = [row[2:] for row in rows if row[2] is not None]  # an empty page is one row of NULLs
        more, rows = len(rows) > limit, rows[:limit]
        comments = [Comment(*row[:-1]) for row in rows]
        last = Position.of(rows[-1][-1], comments[-1]) if rows else None
        return Page(comments, more, last, version)

    def top_page(self, *, thread: str, after: Rank | None, limit: int, reader: Reader = None) -> TopPage:
        """Up to `limit` top-level comments, best first, strictly beyond `after`, each followed by
        its replies (see _top_sql); and where the thread ends now, to poll from for new comments."""
        name, params = (
            ("top_after", (thread, after.score, after.id, limit)) if after else ("top_first", (thread, limit))
        )

        def read(pool: str):
            # The version first, on the same server: the page is then at least as new as its tag.
            version = self._execute("thread_version", (thread,), one=True, pool=pool)
            return (
                version,
                self._execute(name, params, pool=pool),
                self._execute("thread_end", (thread,), one=True, pool=pool),
            )

        (version, settled), rows, end = self._on_reader(read, reader)
        comments = [Comment(*row[:-3]) for row in rows]
        roots = [(row[-2], comment.id) for row, comment in zip(rows, comments, strict=True) if row[-3]]
        more = bool(rows) and rows[0][-1]
        last = Rank(*roots[-1]) if roots else None
        return TopPage(comments, more, last, Position(*end) if end else None, version if settled else None)

    def thread_version(self, thread: str, *, reader: Reader = None) -> int | None:
        """The thread's version, if every change it counts is settled (listed); else None."""
        version, settled = self._read("thread_version", (thread,), one=True, reader=reader)
        return version if settled else None

    def applied_migrations(self) -> set[str]:
        """Versions recorded by the migration runner (empty if it never ran)."""
        try:
            rows = self._run(_APPLIED_MIGRATIONS, ())
        except (psycopg2.errors.UndefinedTable, SchemaNotReady):
            return set()
        return {version for (version,) in rows}

    def query(self, sql: str, params: tuple = (), *, one: bool = False, rows: bool = True):
        """Run one statement (autocommit) for a feature module; psycopg2 placeholders (%s)."""
        return self._run(sql, params, one=one, rows=rows)

    @contextmanager
    def transaction(self) -> Iterator["psycopg2.extensions.cursor"]:
        """A cursor inside one transaction, committed when the block ends, rolled back on error."""
        pool = self._get_pool()
        with _database_errors():
            conn = pool.acquire()
        try:
            with _database_errors():
                conn.autocommit = False
                with conn.cursor() as cursor:
                    yield cursor
                conn.commit()
        except BaseException:
            with suppress(psycopg2.Error):
                conn.rollback()
            raise
        finally:
            _back_to_autocommit(conn)
            pool.release(conn)  # always: a connection that could not be reset was closed above

    def check_writable(self) -> None:
        """Raise DatabaseUnavailable when the server would refuse writes (a standby, read-only)."""
        ((read_only,),) = self._run(_READ_ONLY, ())
        if read_only:
            raise DatabaseUnavailable("The database is read-only; try again shortly.")

    def close(self) -> None:
        for pool in self._pools.values():
            pool.clear()

    def _read(self, name: str, params: tuple, *, one: bool = False, reader: Reader = None):
        """A prepared read, on the replica when it may serve this reader, else the primary."""
        return self._on_reader(lambda pool: self._execute(name, params, one=one, pool=pool), reader)

    def _on_reader(self, run: Callable[[str], object], reader: Reader):
        """run(pool) on the replica when it may serve the reader; else, or if it fails, on the primary."""
        if self.replica and self.replica.serves(reader):
            try:
                return run("replica")
            except DatabaseUnavailable:
                self.replica.failed()
        return run("primary")

    def _execute(self, name: str, params: tuple, *, one: bool = False, cursor=None, pool: str = "primary"):
        sql = f"EXECUTE {name} ({', '.join(['%s'] * len(params))})"
        return self._statement(sql, params, cursor, one=one, pool=pool)

    def _run(self, sql: str, params: tuple, *, one: bool = False, rows: bool = True, pool: str = "primary"):
        pool = self._get_pool(pool)
        with _database_errors():
            conn = pool.acquire()
            try:
                with conn.cursor() as cursor:
                    cursor.execute(sql, params)
                    if not rows:
                        return None
                    return cursor.fetchone() if one else cursor.fetchall()
            finally:
                pool.release(conn)

    def _connect(self, dsn: str):
        conn = psycopg2.connect(**{**self._connect_kwargs, "dsn": dsn})
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                cursor.execute(_SERVER_ENCODING)
                (encoding,) = cursor.fetchone()
                if encoding != "UTF8":
                    raise DatabaseMisconfigured(encoding_problem(encoding))
                cursor.execute(_PREPARE)
        except _NOT_MIGRATED as error:
            conn.close()
            raise SchemaNotReady() from error
        except BaseException:
            conn.close()
            raise
        return conn

    def _get_pool(self, which: str = "primary") -> ConnectionPool:
        # A pool inherited across fork() would share sockets with the parent: make them per process.
        if self._pool_pid != os.getpid():
            with self._pool_lock:
                if self._pool_pid != os.getpid():
                    self._pools = {
                        name: ConnectionPool(partial(self._connect, dsn), self._pool_size, self._pool_timeout)
                        for name, dsn in self._dsns.items()
                    }
                    self._pool_pid = os.getpid()
        return self._pools[which]


def _back_to_autocommit(conn) -> None:
    """Ready the connection for the pool, or close it (release() then drops it) if it cannot be."""
    if conn.closed:
        return
    try:
        conn.autocommit = True  # raises if a failed rollback left a transaction open
    except psycopg2.Error:
        with suppress(psycopg2.Error):
            conn.close()


@contextmanager
def _database_errors():
    """A database that cannot be reached, answer, or write is unavailable, not a bug."""
    try:
        yield
    except (psycopg2.OperationalError, psycopg2.InterfaceError, PoolTimeout, *_READ_ONLY_ERRORS) as error:
        raise DatabaseUnavailable() from error


@dataclass(frozen=True)
class Erased:
    status: str  # the comment's status before
    media_ids: list[int]  # images it no longer uses: delete them once committed (media.py)


def erase(cursor, comment_id: int) -> Erased | None:
    """Delete a comment's words and images for good, inside the caller's transaction; None if
    there is no such comment (or it was already erased).

    With replies it stays as a tombstone (status deleted, name and comment NULL) so the thread
    keeps its shape; without, the row goes, and so does any tombstone ancestor left with no
    replies. The row lock makes a racing reply either wait and then find its parent gone, or
    commit first and be seen here, which keeps the tombstone."""
    cursor.execute(
        "SELECT parent_id, status FROM comments WHERE id = %s AND status <> 'deleted' FOR UPDATE", (comment_id,)
    )
    found = cursor.fetchone()
    if found is None:
        return None
    parent_id, status = found
    outbox.record_deletion(cursor, comment_id)
    _forget_saved_words(cursor, comment_id)
    cursor.execute("DELETE FROM comment_media WHERE comment_id = %s RETURNING media_id", (comment_id,))
    media_ids = [media_id for (media_id,) in cursor.fetchall()]
    if _erase_one(cursor, comment_id) == "gone":
        while parent_id is not None:
            cursor.execute(_LONELY_TOMBSTONE, (parent_id,))
            row = cursor.fetchone()
            if row is None:
                break
            cursor.execute("DELETE FROM comments WHERE id = %s", (parent_id,))
            parent_id = row[0]
    return Erased(status, media_ids)


# Saved answers (idempotency.py) that show a comment being erased: shown again as erased.
_SAVED_ANSWERS = "SELECT client, key, body FROM idempotency_keys WHERE comment_id = %s FOR UPDATE"
_REWRITE_SAVED = "UPDATE idempotency_keys SET body = %s, sealed_token = NULL WHERE client = %s AND key = %s"
ERASED_FIELDS = {**WITHDRAWN_WORDS, "status": "deleted"}


def _forget_saved_words(cursor, comment_id: int) -> None:
    """A retry of the request that created or edited an erased comment replays its answer
    without the erased words (nor the edit token, which no longer opens anything)."""
    cursor.execute(_SAVED_ANSWERS, (comment_id,))
    for client, key, body in cursor.fetchall():
        shown = {**orjson.loads(bytes(body)), **ERASED_FIELDS}
        cursor.execute(_REWRITE_SAVED, (orjson.dumps(shown), client, key))


# A deleted ancestor that no longer has replies: returns its own parent_id.
_LONELY_TOMBSTONE = """SELECT parent_id FROM comments c WHERE id = %s AND status = 'deleted'
    AND NOT EXISTS (SELECT 1 FROM comments r WHERE r.parent_id = c.id) FOR UPDATE"""


def _erase_one(cursor, comment_id: int) -> str:
    cursor.execute("SELECT EXISTS (SELECT 1 FROM comments WHERE parent_id = %s)", (comment_id,))
    (has_replies,) = cursor.fetchone()
    if has_replies:
        cursor.execute(
            "UPDATE comments SET status = 'deleted', name = NULL, comment = NULL, html = NULL, edit_token_hash = NULL,"
            " email = NULL, notify_replies = false, images = '[]' WHERE id = %s",
            (comment_id,),
        )
        return "tombstone"
    cursor.execute("DELETE FROM comments WHERE id = %s", (comment_id,))
    return "gone"


def encoding_problem(encoding: str) -> str:
    """Why a database in another encoding than UTF-8 is refused (shared with migrate.py)."""
    return (
        f"The database encoding is {encoding}, not UTF8: text outside ASCII would fail or be garbled."
        " Create it with ENCODING 'UTF8' (and TEMPLATE template0)."
    )


def database() -> CommentDatabase:
    """The app's database (one per app, its pool one per process), for the views."""
    return current_app.extensions["comments_db"]
