"""CommentDatabase: the thin wrapper that owns every SQL statement the comments API runs.

Each call is one autocommit statement, so every request is one short transaction that has
committed by the time the call returns. Connections come from a per-process pool that is
created on first use, i.e. after gunicorn has forked the worker.

Every statement is prepared once per connection, when the connection opens, so PostgreSQL
parses and plans each query once per connection instead of once per request.
"""

import os
import threading
from dataclasses import dataclass
from itertools import product

import psycopg2
import psycopg2.errors
from flask import current_app

from comment import Comment, NewComment, Position
from exceptions import DatabaseMisconfigured, DatabaseUnavailable, ParentNotFound, SchemaNotReady
from pool import ConnectionPool, PoolTimeout

# Formatting in SQL hands Python a ready RFC 3339 string instead of a datetime to convert.
_COLUMNS = (
    "id, thread, parent_id, name, comment, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
)
# Transactions below this id have finished for every snapshot: see migrations/0002.
_SETTLED = "txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint"


def _page_sql(by_thread: bool, after: bool, newest_first: bool) -> str:
    """One keyset-paging query over the (thread, txid, id) or (txid, id) index."""
    conditions, n = [_SETTLED], 0
    if by_thread:
        n += 1
        conditions.append(f"thread = ${n}")
    if after:
        conditions.append(f"(txid, id) {'<' if newest_first else '>'} (${n + 1}, ${n + 2})")
        n += 2
    direction = "DESC" if newest_first else "ASC"
    return (
        f"SELECT {_COLUMNS}, txid FROM comments WHERE {' AND '.join(conditions)}"
        f" ORDER BY txid {direction}, id {direction} LIMIT ${n + 1}"
    )


def _page_name(by_thread: bool, after: bool, newest_first: bool) -> str:
    return (
        f"page_{'thread' if by_thread else 'all'}_{'after' if after else 'first'}_{'desc' if newest_first else 'asc'}"
    )


STATEMENTS = {
    "insert_comment": (
        f"INSERT INTO comments (thread, parent_id, name, comment) VALUES ($1, $2, $3, $4) RETURNING {_COLUMNS}"
    ),
    "select_comment": f"SELECT {_COLUMNS} FROM comments WHERE id = $1",
    "select_position": "SELECT txid, id FROM comments WHERE id = $1",
    **{_page_name(*variant): _page_sql(*variant) for variant in product((False, True), repeat=3)},
}
# Run on every new connection: prepare all statements, and report what the service relies on.
_PREPARE = ";".join(f"PREPARE {name} AS {sql}" for name, sql in STATEMENTS.items())
_SERVER_ENCODING = "SELECT current_setting('server_encoding')"
# Not prepared: schema_migrations may not exist yet, and /readyz is no hot path.
_APPLIED_MIGRATIONS = "SELECT version FROM schema_migrations"
_READ_ONLY = "SELECT current_setting('transaction_read_only') = 'on'"
# What a missing table, column or function looks like: the schema is behind the code.
_NOT_MIGRATED = (psycopg2.errors.UndefinedTable, psycopg2.errors.UndefinedColumn, psycopg2.errors.UndefinedFunction)
# A server that answers but cannot take writes: a standby after failover, or read-only by setting.
_READ_ONLY_ERRORS = (psycopg2.errors.ReadOnlySqlTransaction, psycopg2.errors.CannotConnectNow)


@dataclass(frozen=True)
class Page:
    comments: list[Comment]
    more: bool  # whether comments beyond this page were already there
    last: Position | None  # the ordering key of the last comment returned


class CommentDatabase:
    def __init__(
        self, url: str, *, pool_size: int, connect_timeout: int, statement_timeout_ms: int, pool_timeout: float
    ):
        self._connect_kwargs = dict(
            dsn=url,
            connect_timeout=connect_timeout,
            application_name="comments-api",
            options=f"-c statement_timeout={statement_timeout_ms} -c lock_timeout={statement_timeout_ms}",
            # Notice a vanished server on an idle or half-open connection instead of hanging.
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=2,
            tcp_user_timeout=statement_timeout_ms + connect_timeout * 1000,
        )
        self._pool_size = pool_size
        self._pool_timeout = pool_timeout
        self._pool = None
        self._pool_pid = None
        self._pool_lock = threading.Lock()

    def add(self, new: NewComment) -> Comment:
        try:
            row = self._execute("insert_comment", (new.thread, new.parent_id, new.name, new.comment), one=True)
        except psycopg2.errors.ForeignKeyViolation:
            raise ParentNotFound() from None
        return Comment(*row)

    def get(self, comment_id: int) -> Comment | None:
        row = self._execute("select_comment", (comment_id,), one=True)
        return Comment(*row) if row else None

    def position_of(self, comment_id: int) -> Position | None:
        """The ordering key of a comment (to honour a v1 cursor, which named only an id)."""
        row = self._execute("select_position", (comment_id,), one=True)
        return Position(*row) if row else None

    def page(self, *, thread: str | None, after: Position | None, limit: int, newest_first: bool) -> Page:
        """Up to `limit` comments in (txid, id) order, strictly beyond `after` (keyset paging).

        Only comments of settled transactions are listed, so a comment committed later can
        never land behind a position a reader has already passed: every comment is seen once.
        """
        name = _page_name(thread is not None, after is not None, newest_first)
        params = (*((thread,) if thread is not None else ()), *((after.txid, after.id) if after else ()), limit + 1)
        rows = self._execute(name, params)
        more, rows = len(rows) > limit, rows[:limit]
        last = Position(rows[-1][-1], rows[-1][0]) if rows else None
        return Page([Comment(*row[:-1]) for row in rows], more, last)

    def applied_migrations(self) -> set[str]:
        """Versions recorded by the migration runner (empty if it never ran)."""
        try:
            rows = self._run(_APPLIED_MIGRATIONS, ())
        except (psycopg2.errors.UndefinedTable, SchemaNotReady):
            return set()
        return {version for (version,) in rows}

    def check_writable(self) -> None:
        """Raise DatabaseUnavailable when the server would refuse writes (a standby, read-only)."""
        ((read_only,),) = self._run(_READ_ONLY, ())
        if read_only:
            raise DatabaseUnavailable("The database is read-only; try again shortly.")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.clear()

    def _execute(self, name: str, params: tuple, *, one: bool = False):
        placeholders = ", ".join(["%s"] * len(params))
        return self._run(f"EXECUTE {name} ({placeholders})", params, one=one)

    def _run(self, sql: str, params: tuple, *, one: bool = False):
        pool = self._get_pool()
        try:
            conn = pool.acquire()
            try:
                with conn.cursor() as cursor:
                    cursor.execute(sql, params)
                    return cursor.fetchone() if one else cursor.fetchall()
            finally:
                pool.release(conn)
        except (psycopg2.OperationalError, psycopg2.InterfaceError, PoolTimeout, *_READ_ONLY_ERRORS) as error:
            raise DatabaseUnavailable() from error

    def _connect(self):
        conn = psycopg2.connect(**self._connect_kwargs)
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

    def _get_pool(self) -> ConnectionPool:
        # A pool inherited across fork() would share sockets with the parent: make one per process.
        if self._pool_pid != os.getpid():
            with self._pool_lock:
                if self._pool_pid != os.getpid():
                    self._pool = ConnectionPool(self._connect, self._pool_size, self._pool_timeout)
                    self._pool_pid = os.getpid()
        return self._pool


def encoding_problem(encoding: str) -> str:
    """Why a database in another encoding than UTF-8 is refused (shared with migrate.py)."""
    return (
        f"The database encoding is {encoding}, not UTF8: text outside ASCII would fail or be garbled."
        " Create it with ENCODING 'UTF8' (and TEMPLATE template0)."
    )


def database() -> CommentDatabase:
    """The app's database (one per app, its pool one per process), for the views."""
    return current_app.extensions["comments_db"]
