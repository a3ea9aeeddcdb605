"""Raw HTTP/1.1 over a socket, for requests no HTTP library will send (bad framing, trickling)."""

import socket


def exchange(port: int, request: bytes, timeout: float = 15, half_close: bool = True) -> tuple[int, bytes]:
    """Send `request` as is, then (like `nc -N`) say that nothing more will come; return the
    status and the body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
            head, _, body = received.partition(b"\r\n\r\n")
            length = _content_length(head)
            if length is not None and len(body) >= length:
                break
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return None


def chunked_post(path: str, body: bytes, content_type: str, *, chunk: int = 1000) -> bytes:
    """A well-framed chunked POST."""
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)]
    framed = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"
    return post_with_framing(path, framed, content_type)


def post_with_framing(path: str, framed_body: bytes, content_type: str) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + framed_body
