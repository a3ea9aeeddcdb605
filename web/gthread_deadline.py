"""gunicorn's gthread worker with a deadline for reading each request.

A client that trickles its request (a header line a second, a body byte a second) holds one of
the worker's few threads for as long as it likes: gthread only limits the wait for the first
byte. Here every request must arrive within READ_DEADLINE seconds of its first byte reaching the
worker (counted from then, not from when a thread picks it up, so that trickling connections
queued behind each other cannot take turns); past it, the socket is shut for reading, the
blocked read ends, and the thread is free again. Sending is untouched, so a slow *answer* (a
request waiting on the database) is never cut short.

This bounds the damage without a proxy; it is no defence against many such clients, which is
why docs/operations.md requires a buffering reverse proxy (nginx in docker-compose.yml) in public.
"""

import socket
import threading
import time
from contextlib import suppress

from gunicorn.workers.gthread import ThreadWorker

READ_DEADLINE = 10.0  # seconds for a request line, headers and body to arrive
SWEEP_EVERY = 0.5


class DeadlineThreadWorker(ThreadWorker):
    def init_process(self):
        self.reading: dict[socket.socket, float] = {}  # socket -> deadline; dict ops are atomic
        threading.Thread(target=self._enforce_deadlines, name="read-deadline", daemon=True).start()
        super().init_process()

    def enqueue_req(self, conn):
        # Called on the main thread when a connection arrives or becomes readable again.
        conn.read_deadline = time.monotonic() + READ_DEADLINE
        super().enqueue_req(conn)

    def handle(self, conn):
        sock = conn.sock
        self.reading[sock] = conn.read_deadline
        try:
            return super().handle(conn)
        finally:
            self.reading.pop(sock, None)

    def _enforce_deadlines(self):
        while True:
            time.sleep(SWEEP_EVERY)
            now = time.monotonic()
            for sock, deadline in list(self.reading.items()):
                if deadline < now and self.reading.pop(sock, None) is not None:
                    with suppress(OSError):
                        sock.shutdown(socket.SHUT_RD)
