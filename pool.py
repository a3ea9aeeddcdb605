"""A small thread-safe pool of database connections for one process.

psycopg2's own pools raise at once when exhausted; this one waits (up to a timeout) for a
connection to come back, which is what a threaded web worker wants. Connections that broke are
closed instead of being returned, and a broken one also empties the idle list: when the server
restarts every idle connection is dead, and finding that out one request at a time would turn
a single outage into a trickle of errors after recovery.
"""

import select
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import psycopg2


class PoolTimeout(Exception):
    """Every connection stayed busy for the whole wait."""


class ConnectionPool:
    def __init__(self, connect: Callable[[], "psycopg2.extensions.connection"], size: int, timeout: float):
        self._connect = connect
        self._timeout = timeout
        self._slots = threading.BoundedSemaphore(size)
        self._idle: deque = deque()
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator["psycopg2.extensions.connection"]:
        if not self._slots.acquire(timeout=self._timeout):
            raise PoolTimeout("no database connection became free in time")
        try:
            conn = self._take_idle() or self._connect()
        except BaseException:
            self._slots.release()
            raise
        try:
            yield conn
        finally:
            if conn.closed:  # psycopg2 marks a connection closed when the server is lost
                self.clear()
            else:
                self._give_back(conn)
            self._slots.release()

    def clear(self) -> None:
        """Close every idle connection (in-use ones are closed when they come back broken)."""
        with self._lock:
            idle, self._idle = list(self._idle), deque()
        for conn in idle:
            conn.close()

    def _take_idle(self):
        with self._lock:
            while self._idle:
                conn = self._idle.pop()  # most recently used: warm and least likely to have timed out
                if not conn.closed and not _has_unread_input(conn):
                    return conn
                self._discard(conn)
        return None

    def _give_back(self, conn) -> None:
        # An autocommit connection is idle between statements; anything else means trouble.
        if conn.closed or conn.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
            self._discard(conn)
            return
        with self._lock:
            self._idle.append(conn)

    @staticmethod
    def _discard(conn) -> None:
        """Close a connection that must not be used again."""
        with suppress(psycopg2.Error):
            conn.close()


def _has_unread_input(conn) -> bool:
    """An idle connection's socket has nothing to read unless the server hung up or is shutting
    down (EOF or a termination message), so a readable socket means a dead connection. Checking
    costs one non-blocking select() and spares a request the error of finding out by using it."""
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    return bool(readable)
