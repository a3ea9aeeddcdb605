"""CommentDatabase: the thin wrapper that owns every SQL statement the service runs.

Each call is one autocommit statement, so every request is one short transaction that has
committed by the time the call returns. Connections come from a per-process pool that is
created on first use, i.e. after gunicorn has forked the worker.
"""

import os
import threading
from contextlib import contextmanager

import psycopg2
import psycopg2.errors

from comment import Comment, NewComment
from pool import ConnectionPool, PoolTimeout

# Formatting in SQL hands Python a ready RFC 3339 string instead of a datetime to convert.
_COLUMNS = (
    "id, thread, parent_id, name, comment, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
)
_INSERT = f"INSERT INTO comments (thread, parent_id, name, comment) VALUES (%s, %s, %s, %s) RETURNING {_COLUMNS}"
_SELECT_ONE = f"SELECT {_COLUMNS} FROM comments WHERE id = %s"


class DatabaseUnavailable(Exception):
    """The database could not be reached or did not answer in time."""


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
            row = self._fetch(_INSERT, (new.thread, new.parent_id, new.name, new.comment), one=True)
        except psycopg2.errors.ForeignKeyViolation:
            raise ParentNotFound(new.parent_id) from None
        return Comment(*row)

    def get(self, comment_id: int) -> Comment | None:
        row = self._fetch(_SELECT_ONE, (comment_id,), one=True)
        return Comment(*row) if row else None

    def page(self, *, thread: str | None, after_id: int | None, limit: int, newest_first: bool) -> list[Comment]:
        """Up to `limit` comments in id order, strictly after `after_id` (keyset paging)."""
        conditions, params = [], {"thread": thread, "after": after_id, "limit": limit}
        if thread is not None:
            conditions.append("thread = %(thread)s")
        if after_id is not None:
            conditions.append("id < %(after)s" if newest_first else "id > %(after)s")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        direction = "DESC" if newest_first else "ASC"
        sql = f"SELECT {_COLUMNS} FROM comments{where} ORDER BY id {direction} LIMIT %(limit)s"
        return [Comment(*row) for row in self._fetch(sql, params)]

    def applied_migrations(self) -> set[str]:
        """Versions recorded by the migration runner (empty if it never ran)."""
        try:
            rows = self._fetch("SELECT version FROM schema_migrations", ())
        except psycopg2.errors.UndefinedTable:
            return set()
        return {version for (version,) in rows}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.clear()

    def _fetch(self, sql: str, params, *, one: bool = False):
        with self._connection() as conn, conn.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone() if one else cursor.fetchall()

    @contextmanager
    def _connection(self):
        try:
            with self._get_pool().connection() as conn:
                yield conn
        except (psycopg2.OperationalError, psycopg2.InterfaceError, PoolTimeout) as error:
            raise DatabaseUnavailable(str(error).strip()) from error

    def _connect(self):
        conn = psycopg2.connect(**self._connect_kwargs)
        conn.autocommit = True
        return conn

    def _get_pool(self) -> ConnectionPool:
        # A pool inherited across fork() would share sockets with the parent: make one per process.
        if self._pool_pid != os.getpid():
            with self._pool_lock:
                if self._pool_pid != os.getpid():
                    self._pool = ConnectionPool(self._connect, self._pool_size, self._pool_timeout)
                    self._pool_pid = os.getpid()
        return self._pool
