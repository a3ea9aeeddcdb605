"""`pipenv run media-gc`: remove images that no comment uses; an admin one-off, like migrate.

Deleting a comment deletes its images at once; this catches what that could not: an upload
whose comment never committed (a crash, a refused post), or a deletion while the object store
was down. Objects younger than the grace period are left alone, since a post may be uploading
them right now (an upload takes seconds; the default grace is an hour). Safe to run at any
time and from several places at once; `docker compose run --rm api python -m media.gc` in compose.
"""

import argparse
import logging

import config
from core import logs
from core.exceptions import Unavailable
from db import CommentDatabase
from media import storage
from store.object_store import ObjectStore

log = logging.getLogger("comments.media_gc")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grace-minutes", type=float, default=60, help="leave objects younger than this (60)")
    grace = parser.parse_args(argv).grace_minutes * 60
    settings = config.load_or_exit()
    logs.configure(settings.log_level)
    if not settings.media_bucket:
        log.info("images are off (no MEDIA_BUCKET): nothing to collect")
        return 0
    db = CommentDatabase(
        settings.require_database_url(),
        pool_size=1,
        connect_timeout=settings.db_connect_timeout,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        pool_timeout=settings.db_pool_timeout,
    )
    try:
        removed = storage.collect_garbage(db, ObjectStore(settings), grace)
    except Unavailable as error:
        log.error("media-gc stopped; run it again later", extra={"reason": error.message})
        return 1
    finally:
        db.close()
    log.info("media-gc finished", extra={**removed, "grace_minutes": grace / 60})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
