"""A small thread-safe pool of database connections for one process.

psycopg2's own pools raise at once when exhausted; this one waits (up to a timeout) for a
connection to come back, which is what a threaded web worker wants. Capacity is a queue of
tokens (C-implemented, so the common uncontended path costs next to nothing) and idle
connections wait in a LIFO list, so a quiet worker keeps reusing one warm connection.

Broken connections are closed instead of being returned, and a broken one also empties the idle
list: when the server restarts every idle connection is dead, and finding that out one request
at a time would turn a single outage into a trickle of errors after recovery.
"""

import queue
import select
from collections import deque
from collections.abc import Callable
from contextlib import suppress

import psycopg2
import psycopg2.extensions

IDLE = psycopg2.extensions.TRANSACTION_STATUS_IDLE


class PoolTimeout(Exception):
    """Every connection stayed busy for the whole wait."""


class ConnectionPool:
    def __init__(self, connect: Callable[[], "psycopg2.extensions.connection"], size: int, timeout: float):
        self._connect = connect
        self._timeout = timeout
        self._tokens: queue.SimpleQueue = queue.SimpleQueue()  # one per connection that may be open
        for _ in range(size):
            self._tokens.put(None)
        self._idle: deque = deque()  # append/pop are atomic: no lock needed

    def acquire(self) -> "psycopg2.extensions.connection":
        """A live connection, opened if no idle one is left; raises PoolTimeout or psycopg2 errors."""
        try:
            self._tokens.get(timeout=self._timeout)
        except queue.Empty:
            raise PoolTimeout("no database connection became free in time") from None
        try:
            return self._take_idle() or self._connect()
        except BaseException:
            self._tokens.put(None)
            raise

    def release(self, conn) -> None:
        """Return a connection; a broken one is closed and takes the idle ones with it."""
        if conn.closed:  # psycopg2 marks a connection closed when the server is lost
            self.clear()
        elif conn.info.transaction_status == IDLE:  # autocommit: idle between statements
            self._idle.append(conn)
        else:
            _close(conn)
        self._tokens.put(None)

    def clear(self) -> None:
        """Close every idle connection (in-use ones are closed when they come back broken)."""
        while self._idle:
            with suppress(IndexError):
                _close(self._idle.popleft())

    def _take_idle(self):
        while True:
            try:
                conn = self._idle.pop()  # most recently used: warm and least likely to have timed out
            except IndexError:
                return None
            if not conn.closed and not _has_unread_input(conn):
                return conn
            _close(conn)


def _close(conn) -> None:
    with suppress(psycopg2.Error):
        conn.close()


def _has_unread_input(conn) -> bool:
    """An idle connection's socket has nothing to read unless the server hung up or is shutting
    down (EOF or a termination message), so a readable socket means a dead connection. Checking
    costs one non-blocking poll() and spares a request the error of finding out by using it.
    (poll, not select: select cannot watch descriptors numbered 1024 or more, which a busy
    threaded worker reaches.)"""
    watcher = select.poll()
    watcher.register(conn.fileno(), select.POLLIN)
    return bool(watcher.poll(0))
