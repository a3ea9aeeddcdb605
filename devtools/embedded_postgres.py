"""A PostgreSQL server that runs inside the checkout, for development, tests and the benchmark.

The server binaries come from the `pgserver` wheel (a dev dependency), so nothing but Python and
pipenv is needed. The server listens on 127.0.0.1 only, trusts local connections, and keeps its
data in the folder it is given. PostgreSQL refuses to run as root, so as root it runs as an
unprivileged system user created for the purpose.
"""

import importlib.util
import os
import pwd
import socket
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

SERVICE_USER = "pgembedded"


def binaries() -> Path:
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pgserver is not installed: run `pipenv install --dev`")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def with_database(url: str, name: str) -> str:
    """The same server and credentials, another database."""
    return urlsplit(url)._replace(path=f"/{name}").geturl()


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, port: int | None = None):
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        self.bin = binaries()
        self._run_as = _unprivileged_user(self.bin) if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> str:
        """Initialise the data folder if needed, start the server (or adopt a running one)."""
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        running_port = self._running_port()
        if running_port:
            self.port = running_port
            return self.url
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
        self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.data_dir / "server.log"), "-o", options)
        return self.url

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; mode "immediate" is a crash as far as PostgreSQL can tell."""
        if self._running_port():
            self._pg_ctl("stop", "-w", "-t", "60", "-m", mode)

    def clone_from(self, primary_url: str) -> None:
        """Make the (new) data folder a streaming replica of the server at primary_url: a copy by
        pg_basebackup, with standby.signal and primary_conninfo written (-R); start() then runs
        it as a hot standby that follows the primary."""
        self._prepare_folder()
        self.data_dir.chmod(0o700)  # PostgreSQL refuses a data folder others can read
        self._run("pg_basebackup", "-d", primary_url, "-D", str(self.data_dir), "-R", "-X", "stream", "-c", "fast")

    def _prepare_folder(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._run_as:
            _make_reachable(self.data_dir.parent)
            os.chown(self.data_dir, self._run_as.pw_uid, self._run_as.pw_gid)

    def _initdb(self) -> None:
        self._prepare_folder()
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-locale"
        )

    def postmaster_pid(self) -> int:
        """The running server's process id (postmaster.pid's first line)."""
        return int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])

    def _running_port(self) -> int | None:
        """The port of a live server on this data folder (postmaster.pid's fourth line)."""
        status = self._run("pg_ctl", "status", "-D", str(self.data_dir), check=False)
        if status.returncode != 0:
            return None
        lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        return int(lines[3])

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), *args)

    def _run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        user = {}
        if self._run_as:
            user = dict(user=self._run_as.pw_uid, group=self._run_as.pw_gid, extra_groups=[])
        result = subprocess.run(
            [str(self.bin / program), *args], capture_output=True, text=True, cwd="/", env=_clean_env(), **user
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
            )
        return result


def _clean_env() -> dict:
    # PG* variables from the caller's shell (PGPORT, PGDATA...) must not redirect the server.
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


def _unprivileged_user(binaries_dir: Path) -> pwd.struct_passwd:
    try:
        account = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER], check=True
        )
        account = pwd.getpwnam(SERVICE_USER)
    _make_reachable(binaries_dir)
    return account


def _make_reachable(path: Path) -> None:
    """Let the service user traverse to the binaries, which may sit under root's 0700 home."""
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if not mode & 0o001:
            folder.chmod(mode | 0o001)
