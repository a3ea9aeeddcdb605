"""A bound on the whole of a network exchange, not on each socket read.

Socket timeouts bound one read at a time: a peer that sends a byte every few seconds keeps a
request alive for ever. `within` runs a block and, if it is still running when the time is
up, shuts its socket down, so that the blocked read or write fails at once.
"""

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress


class DeadlinePassed(TimeoutError):
    """The exchange took longer than it was allowed, in all."""


@contextmanager
def within(seconds: float, current_socket: Callable[[], socket.socket | None]) -> Iterator[None]:
    """Run the block; past `seconds`, shut down `current_socket()` (asked then: a connection
    makes its socket as it goes) and raise DeadlinePassed, whatever the block raised."""
    fired = threading.Event()

    def cut() -> None:
        fired.set()
        sock = current_socket()
        if sock is not None:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked recv(), which close() would not

    timer = threading.Timer(seconds, cut)
    timer.daemon = True
    timer.start()
    try:
        yield
    except Exception as error:
        if fired.is_set():
            raise DeadlinePassed(f"took longer than {seconds:g} s in all") from error
        raise
    finally:
        timer.cancel()
