"""A real gunicorn running the service, started exactly as `pipenv run serve` starts it."""

import os
import shlex
import signal
import subprocess
import tempfile
import time
import tomllib

import requests

from embedded_postgres import free_port
from tests.conftest import ROOT


def serve_command() -> list[str]:
    with open(ROOT / "Pipfile", "rb") as pipfile:
        return shlex.split(tomllib.load(pipfile)["scripts"]["serve"])


class Service:
    def __init__(self, database_url: str, **env: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
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
                serve_command(), cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"gunicorn exited early:\n{self.logs()}"
            try:
                if requests.get(self.url(wait_for), timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
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

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
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
