"""Real peers for the worker's tests: an HTTP webhook receiver and an SMTP server, both on
127.0.0.1, started by the test; and the worker as a real process."""

import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

from aiosmtpd.controller import Controller

from devtools.embedded_postgres import free_port
from tests.service import ROOT


class Receiver:
    """Records every POST; answers `status` (changeable while running) after `delay` seconds."""

    def __init__(self, status: int = 204, delay: float = 0.0):
        self.status, self.delay = status, delay
        self.received: list[dict] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(receiver.delay)
                status = receiver.status
                with receiver._lock:
                    receiver.received.append(
                        {"headers": dict(self.headers), "body": body, "json": json.loads(body), "status": status}
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self) -> list[dict]:
        with self._lock:
            return [r for r in self.received if 200 <= r["status"] < 300]

    def wait_for(self, count: int, timeout: float = 20) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.accepted()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        accepted = self.accepted()
        assert len(accepted) >= count, f"{len(accepted)} of {count} deliveries arrived in {timeout}s"
        return accepted

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """A real SMTP server (aiosmtpd) that keeps what it is sent. With `tls` ("starttls" or
    "smtps") it speaks TLS with a certificate made for 127.0.0.1 (`certificate`: trust it with
    SSL_CERT_FILE) and takes only the login USER/PASSWORD."""

    USER, PASSWORD = "mailer", "p@ss word"

    def __init__(self, tls: str | None = None):
        self.messages: list = []
        self.sessions: list[dict] = []  # per message: whether it came over TLS, and logged in
        mailbox = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                from email import message_from_bytes, policy

                tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
                mailbox.sessions.append({"tls": tls, "logged_in": session.authenticated})
                mailbox.messages.append(message_from_bytes(envelope.content, policy=policy.default))
                return "250 OK"

        self.port = free_port()
        options = {}
        if tls:
            self.certificate = _self_signed_certificate()
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.certificate, self.certificate)
            options = {"authenticator": _only(self.USER, self.PASSWORD)}
            if tls == "smtps":  # TLS from the first byte (aiosmtpd does not count it as TLS for AUTH)
                options.update(ssl_context=context, auth_require_tls=False)
            else:  # STARTTLS required before anything else, AUTH only after it
                options.update(tls_context=context, require_starttls=True, auth_require_tls=True)
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()
        scheme = "smtps" if tls == "smtps" else "smtp"
        login = f"{quote(self.USER)}:{quote(self.PASSWORD)}@" if tls else ""
        self.url = f"{scheme}://{login}127.0.0.1:{self.port}"

    def wait_for(self, count: int, timeout: float = 20) -> list:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.messages) >= count, f"{len(self.messages)} of {count} e-mails arrived"
        return self.messages

    def close(self) -> None:
        self.controller.stop()


def _self_signed_certificate() -> str:
    """A key and a certificate for 127.0.0.1 in one PEM file, made with openssl for this test."""
    descriptor, path = tempfile.mkstemp(prefix="comments-smtp-", suffix=".pem")
    os.close(descriptor)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", path, "-out", path],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return path


def _only(user: str, password: str):
    from aiosmtpd.smtp import AuthResult

    def authenticate(server, session, envelope, mechanism, auth_data):
        given = (auth_data.login.decode(), auth_data.password.decode())
        return AuthResult(success=given == (user, password))

    return authenticate


class WorkerProcess:
    """`pipenv run worker`'s command, as a process of its own (so it can be killed for real)."""

    def __init__(self, database_url: str, **env: str):
        from tests.conftest import TEST_ENVIRONMENT

        self.env = {**os.environ, **TEST_ENVIRONMENT, "DATABASE_URL": database_url, **env}
        descriptor, self.log_path = tempfile.mkstemp(prefix="comments-worker-", suffix=".log")
        os.close(descriptor)
        self.process: subprocess.Popen | None = None

    def start(self) -> "WorkerProcess":
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "delivery.worker"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 15
        while "worker started" not in self.logs() and time.monotonic() < deadline:
            assert self.process.poll() is None, f"worker exited early:\n{self.logs()}"
            time.sleep(0.05)
        return self

    def logs(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            return log.read()

    def log_entries(self) -> list[dict]:
        return [json.loads(line) for line in self.logs().splitlines() if line.startswith("{")]

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def __enter__(self) -> "WorkerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        if exc[0] is not None:  # the test failed inside: show what the worker said
            print(f"worker log:\n{self.logs()[-4000:]}")
        os.unlink(self.log_path)
