"""CommentDatabase: the thin wrapper that owns every SQL statement the service runs.

Each call is one autocommit statement, so every request is one short transaction that has
committed by the time the call returns. Connections come from a per-process pool that is
created on first use, i.e. after gunicorn has forked the worker.

Every statement is prepared once per connection, when the connection opens, so PostgreSQL
parses and plans each query once per connection instead of once per request.
"""

import os
import threading
from itertools import product

import psycopg2
import psycopg2.errors

from comment import Comment, NewComment
from pool import ConnectionPool, PoolTimeout

# Formatting in SQL hands Python a ready RFC 3339 string instead of a datetime to convert.
_COLUMNS = (
    "id, thread, parent_id, name, comment, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
)


def _page_sql(by_thread: bool, after: bool, newest_first: bool) -> str:
    """One keyset-paging query: walks the (thread, id) or primary-key index in id order."""
    conditions, n = [], 0
    if by_thread:
        n += 1
        conditions.append(f"thread = ${n}")
    if after:
        n += 1
        conditions.append(f"id {'<' if newest_first else '>'} ${n}")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    direction = "DESC" if newest_first else "ASC"
    return f"SELECT {_COLUMNS} FROM comments{where} ORDER BY id {direction} LIMIT ${n + 1}"


def _page_name(by_thread: bool, after: bool, newest_first: bool) -> str:
    return (
        f"page_{'thread' if by_thread else 'all'}_{'after' if after else 'first'}_{'desc' if newest_first else 'asc'}"
    )


STATEMENTS = {
    "insert_comment": (
        f"INSERT INTO comments (thread, parent_id, name, comment) VALUES ($1, $2, $3, $4) RETURNING {_COLUMNS}"
    ),
    "select_comment": f"SELECT {_COLUMNS} FROM comments WHERE id = $1",
    **{_page_name(*variant): _page_sql(*variant) for variant in product((False, True), repeat=3)},
}
# Run on every new connection: prepare all statements.
_PREPARE = ";".join(f"PREPARE {name} AS {sql}" for name, sql in STATEMENTS.items())
# Not prepared: schema_migrations may not exist yet, and /readyz is no hot path.
_APPLIED_MIGRATIONS = "SELECT version FROM schema_migrations"


class DatabaseUnavailable(Exception):
    """The database could not be reached or did not answer in time."""


class SchemaNotReady(DatabaseUnavailable):
    """The tables the statements need are missing: migrations have not run."""


class ParentNotFound(Exception):
    """parent_id names no comment in the same thread."""


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
            raise ParentNotFound(new.parent_id) from None
        return Comment(*row)

    def get(self, comment_id: int) -> Comment | None:
        row = self._execute("select_comment", (comment_id,), one=True)
        return Comment(*row) if row else None

    def page(self, *, thread: str | None, after_id: int | None, limit: int, newest_first: bool) -> list[Comment]:
        """Up to `limit` comments in id order, strictly after `after_id` (keyset paging)."""
        name = _page_name(thread is not None, after_id is not None, newest_first)
        params = (*(value for value in (thread, after_id) if value is not None), limit)
        return [Comment(*row) for row in self._execute(name, params)]

    def applied_migrations(self) -> set[str]:
        """Versions recorded by the migration runner (empty if it never ran)."""
        try:
            rows = self._run(_APPLIED_MIGRATIONS, ())
        except (psycopg2.errors.UndefinedTable, SchemaNotReady):
            return set()
        return {version for (version,) in rows}

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
        except (psycopg2.OperationalError, psycopg2.InterfaceError, PoolTimeout) as error:
            raise DatabaseUnavailable(str(error).strip()) from error

    def _connect(self):
        conn = psycopg2.connect(**self._connect_kwargs)
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                cursor.execute(_PREPARE)
        except psycopg2.ProgrammingError as error:  # a missing table or column
            conn.close()
            raise SchemaNotReady("the schema is not migrated: run migrate") from error
        return conn

    def _get_pool(self) -> ConnectionPool:
        # A pool inherited across fork() would share sockets with the parent: make one per process.
        if self._pool_pid != os.getpid():
            with self._pool_lock:
                if self._pool_pid != os.getpid():
                    self._pool = ConnectionPool(self._connect, self._pool_size, self._pool_timeout)
                    self._pool_pid = os.getpid()
        return self._pool
