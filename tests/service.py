"""A real gunicorn running the service, started exactly as `pipenv run serve` starts it."""

import json
import os
import shlex
import signal
import subprocess
import tempfile
import threading
import time
import tomllib
from pathlib import Path

import requests

from devtools.embedded_postgres import free_port

ROOT = Path(__file__).resolve().parent.parent


def serve_command(app_target: str = "app:app") -> list[str]:
    """The Pipfile's `serve` script, optionally serving another WSGI app under the same config."""
    with open(ROOT / "Pipfile", "rb") as pipfile:
        command = shlex.split(tomllib.load(pipfile)["scripts"]["serve"])
    assert command[-1] == "app:app", command
    return [*command[:-1], app_target]


class Service:
    def __init__(self, database_url: str, app_target: str = "app:app", **env: str):
        self.app_target = app_target
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        from tests.conftest import TEST_ENVIRONMENT

        self.env = {
            **os.environ,
            **TEST_ENVIRONMENT,
            "DATABASE_URL": database_url,
            "PORT": str(self.port),
            "BIND_HOST": "127.0.0.1",
            **env,
        }
        descriptor, self.log_path = tempfile.mkstemp(prefix="comments-service-", suffix=".log")
        os.close(descriptor)
        self.process: subprocess.Popen | None = None

    def start(self, wait_for: str = "/healthz", timeout: float = 20) -> "Service":
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                serve_command(self.app_target),
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"gunicorn exited early:\n{self.logs()}"
            try:
                if requests.get(self.url(wait_for), timeout=1).status_code == 200:
                    return self
            except requests.RequestException:  # not listening yet, or workers still booting
                pass
            time.sleep(0.05)
        raise AssertionError(f"{wait_for} never answered 200:\n{self.logs()}")

    def url(self, path: str) -> str:
        return self.base + path

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)

    def logs(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            return log.read()

    def log_entries(self) -> list[dict]:
        """The JSON log lines; any other line (a stray traceback, say) fails the caller's test."""
        entries = []
        for line in self.logs().splitlines():
            assert line.startswith("{"), f"not a JSON log line: {line!r}"
            entries.append(json.loads(line))
        return entries

    def assert_clean_logs(self) -> None:
        """Every line is JSON, no request hit a bug (500), and no traceback was logged."""
        entries = self.log_entries()
        assert not [e for e in entries if e.get("status") == 500 or "traceback" in e], entries[-5:]

    def stop(self) -> None:
        """Tear down with gunicorn's quick shutdown (SIGQUIT). The graceful path (SIGTERM: drain,
        exit 0) has tests of its own in test_shutdown.py; on teardown it would only add gthread's
        linger of up to 2 s for kept-alive connections."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # its own session: only what we started
                self.process.wait(5)
        os.unlink(self.log_path)

    def __enter__(self) -> "Service":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class Posters:
    """Threads that POST comments continuously until stopped, recording what each got back.

    Bounded: they stop after `seconds` even if nobody calls stop().
    """

    def __init__(self, service: Service, threads: int = 8, seconds: float = 30, thread_name: str = "load"):
        self.service, self.thread_name = service, thread_name
        self.deadline = time.monotonic() + seconds
        self.stopping = threading.Event()
        self.acknowledged: list[int] = []
        self.statuses: list[int] = []
        self.failures: list[str] = []  # connection errors: nothing was acknowledged
        self.slow: list[float] = []  # seconds taken by answers slower than 5 s
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]

    def __enter__(self) -> "Posters":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(15)

    def _run(self, worker: int) -> None:
        session, n = requests.Session(), 0
        while not self.stopping.is_set() and time.monotonic() < self.deadline:
            n += 1
            body = {"name": f"w{worker}", "comment": f"{worker}-{n}", "thread": self.thread_name}
            started = time.monotonic()
            try:
                response = session.post(self.service.url("/comments"), json=body, timeout=10)
            except requests.RequestException as error:
                with self._lock:
                    self.failures.append(type(error).__name__)
                time.sleep(0.01)
                continue
            took = time.monotonic() - started
            with self._lock:
                self.statuses.append(response.status_code)
                if took > 5:
                    self.slow.append(took)
                if response.status_code == 201:
                    self.acknowledged.append(response.json()["id"])

    def count(self, status: int) -> int:
        return self.statuses.count(status)
