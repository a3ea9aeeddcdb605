"""`pipenv run dev`: the service on http://localhost:$PORT (default 5000) for development.

With DATABASE_URL unset it starts an embedded PostgreSQL whose data lives in .devdb/ (git-ignored)
so comments survive restarts; with neither MEDIA_BUCKET nor AWS_ENDPOINT_URL_S3 set, an
embedded SeaweedFS (S3) whose data lives in .devmedia/, for images. With SECRET_KEY unset it
makes one up for this run (client pseudonyms and rate limits then start afresh on every
restart, which development can live with). Either way it applies migrations, then runs the same gunicorn as
production with code reloading, bound to localhost only, and a worker beside it (without
SMTP_URL, reply e-mails are written to the log).
"""

import logging
import os
import secrets
import signal
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import config
from core import logs
from store import migrate

DEV_DATA = Path(__file__).resolve().parent.parent / ".devdb"
DEV_MEDIA = Path(__file__).resolve().parent.parent / ".devmedia"
DEV_BUCKET = "comments-media"
log = logging.getLogger("comments.dev")


def main() -> int:
    settings = config.load_or_exit(need_database=False)
    logs.configure(settings.log_level)
    env = {**os.environ, "BIND_HOST": os.environ.get("BIND_HOST", "127.0.0.1")}
    if not settings.secret_key:
        env["SECRET_KEY"] = secrets.token_urlsafe(32)
        log.info("SECRET_KEY is not set: using a random one for this run")
    with ExitStack() as backing_services:
        if not settings.media_bucket and not settings.s3_endpoint:
            from devtools.embedded_seaweedfs import EmbeddedSeaweedFS  # a dev dependency, needed only here

            store = EmbeddedSeaweedFS(DEV_MEDIA)
            env.update(store.start(), MEDIA_BUCKET=DEV_BUCKET)
            backing_services.callback(store.stop)
            log.info("embedded SeaweedFS running", extra={"data_dir": str(DEV_MEDIA), "endpoint": store.endpoint})
        if not settings.database_url:
            from devtools.embedded_postgres import EmbeddedPostgres  # a dev dependency, needed only here

            embedded = EmbeddedPostgres(DEV_DATA)
            env["DATABASE_URL"] = embedded.start()
            backing_services.callback(embedded.stop)
            log.info("embedded PostgreSQL running", extra={"data_dir": str(DEV_DATA), "port": embedded.port})
        migrate.migrate(env["DATABASE_URL"], settings.db_connect_timeout)
        migrate.prepare_bucket(config.from_environment(env))
        log.info("serving", extra={"url": f"http://localhost:{settings.port}"})
        return run_server(env)


def run_server(env: dict) -> int:
    """gunicorn (reloading) and one worker (webhooks, reply e-mails) side by side."""
    command = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--reload", "app:app"]
    server = subprocess.Popen(command, env=env)
    worker = subprocess.Popen([sys.executable, "-m", "delivery.worker"], env=env)

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
