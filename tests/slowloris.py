"""Slow clients: sockets that trickle a request, a byte or a header line at a time, and never
finish it. Bounded: each stops after `seconds`, or when the server closes it."""

import socket
import threading
import time


class Trickler:
    def __init__(self, host: str, port: int, sockets: int, *, every: float = 0.5, seconds: float = 30):
        self.address = (host, port)
        self.every, self.deadline = every, time.monotonic() + seconds
        self.stopping = threading.Event()
        self.closed_after: list[float] = []  # seconds until the server hung up, per socket
        self.opened = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._trickle, args=(n,), daemon=True) for n in range(sockets)]

    def __enter__(self) -> "Trickler":
        for thread in self._threads:
            thread.start()
        while self.opened < len(self._threads) and time.monotonic() < self.deadline:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(5)

    def _trickle(self, n: int) -> None:
        started = time.monotonic()
        with socket.create_connection(self.address, timeout=2) as sock:
            with self._lock:
                self.opened += 1
            pieces = [b"GET /healthz HTTP/1.1\r\n", b"Host: slow\r\n"] + [
                b"X-Slow-%d: %d\r\n" % (n, i) for i in range(1000)
            ]
            for piece in pieces:
                if self.stopping.is_set() or time.monotonic() > self.deadline:
                    return
                try:
                    sock.sendall(piece)
                    if _server_hung_up(sock, self.every):
                        break
                except OSError:
                    break
            with self._lock:
                self.closed_after.append(time.monotonic() - started)


def _server_hung_up(sock: socket.socket, wait: float) -> bool:
    """Wait up to `wait` seconds; True if the server closed the connection (or answered)."""
    sock.settimeout(wait)
    try:
        return sock.recv(1024) is not None  # b"" on close, or an error answer: either way, done
    except TimeoutError:
        return False
    finally:
        sock.settimeout(2)
