"""Apply pending schema migrations: a one-off admin command (`pipenv run migrate`). It also
creates the media bucket (MEDIA_BUCKET) if it does not exist yet.

Migrations are the numbered `.sql` files in migrations/, applied in order, each in its own
transaction together with the row in schema_migrations that records it. A session-level
advisory lock makes concurrent runs (two containers starting at once) take turns, so running
it twice, or twice at the same time, applies each migration exactly once.

Why not Alembic or yoyo: the service writes plain SQL and has no ORM; forty lines that anyone
can read cover forward-only SQL migrations without another dependency.
"""

import logging
from pathlib import Path

import psycopg2
from botocore.exceptions import BotoCoreError, ClientError

import config
from core import formatting, logs
from db import encoding_problem
from store.object_store import ObjectStore

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
LOCK_KEY = 0x636F6D6D656E7473  # "comments" in ASCII: one lock id for this service's migrations

log = logging.getLogger("comments.migrate")


class UnusableDatabase(Exception):
    """The database can be reached but must not be migrated (the message says why)."""


def available() -> dict[str, str]:
    """Version (file name without .sql) -> SQL, in the order they must run."""
    return {path.stem: path.read_text() for path in sorted(MIGRATIONS_DIR.glob("*.sql"))}


def migrate(database_url: str, connect_timeout: int = 10) -> list[str]:
    """Apply what is pending; return the versions applied by this call."""
    applied_now = []
    conn = psycopg2.connect(database_url, connect_timeout=connect_timeout, application_name="comments-migrate")
    try:
        with conn.cursor() as cursor:
            conn.autocommit = True
            cursor.execute("SELECT current_setting('server_encoding')")
            (encoding,) = cursor.fetchone()
            if encoding != "UTF8":
                raise UnusableDatabase(encoding_problem(encoding))
            cursor.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cursor.execute("SELECT version FROM schema_migrations")
            done = {version for (version,) in cursor.fetchall()}
            conn.autocommit = False
            for version, sql in available().items():
                if version in done:
                    continue
                with conn:  # one transaction: the schema change and its record, or neither
                    cursor.execute(sql)
                    cursor.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                log.info("applied migration", extra={"version": version})
                applied_now.append(version)
            render_unrendered(conn)
    finally:
        conn.close()  # closing the session releases the advisory lock
    return applied_now


# Comments written before their text was rendered at write time (migrations/0018).
UNRENDERED = "SELECT id, comment FROM comments WHERE html IS NULL AND comment IS NOT NULL ORDER BY id LIMIT %s"
RENDERED = "UPDATE comments c SET html = r.html FROM unnest(%s::bigint[], %s::text[]) AS r (id, html) WHERE c.id = r.id"
RENDER_BATCH = 1000


def render_unrendered(conn) -> int:
    """Render what was written before formatting existed, a committed batch at a time (a rerun
    after an interruption carries on). Returns how many were rendered."""
    done = 0
    with conn.cursor() as cursor:
        while True:
            with conn:
                cursor.execute(UNRENDERED, (RENDER_BATCH,))
                batch = cursor.fetchall()
                if not batch:
                    break
                cursor.execute(RENDERED, ([id_ for id_, _ in batch], [formatting.render(text) for _, text in batch]))
            done += len(batch)
    if done:
        log.info("rendered earlier comments", extra={"comments": done})
    return done


def prepare_bucket(settings: config.Config) -> None:
    """Create MEDIA_BUCKET if it does not exist (images are off without one)."""
    if not settings.media_bucket:
        return
    if ObjectStore(settings).ensure_bucket():
        log.info("created the media bucket", extra={"bucket": settings.media_bucket})


def main() -> None:
    settings = config.load_or_exit()
    logs.configure(settings.log_level)
    try:
        applied = migrate(settings.database_url, settings.db_connect_timeout)
    except psycopg2.OperationalError as error:  # unreachable, refused, bad credentials
        log.error("cannot reach the database; nothing was migrated", extra={"reason": str(error).strip()})
        raise SystemExit(1) from None
    except UnusableDatabase as error:
        log.error("refusing to migrate this database; nothing was migrated", extra={"reason": str(error)})
        raise SystemExit(1) from None
    log.info("schema is current", extra={"applied": len(applied), "versions": applied})
    try:
        prepare_bucket(settings)
    except (BotoCoreError, ClientError) as error:
        log.error("cannot prepare the media bucket", extra={"reason": str(error)})
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
