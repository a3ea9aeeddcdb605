"""`pipenv run python bench/duplicate_cost.py`: does a POST cost more the more its client posted?

The duplicate rule (db.py) looks for the same words from the same client in the same thread
within 10 minutes. This times the insert statement for one client after 10, 10,000 and 50,000
recent comments of its own, on a throwaway embedded PostgreSQL (docs/performance.md).
"""

import shutil
import sys
import tempfile
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from comment import NewComment  # noqa: E402
from db import CommentDatabase  # noqa: E402
from devtools.embedded_postgres import EmbeddedPostgres  # noqa: E402
from store import migrate  # noqa: E402

HISTORY = (10, 10_000, 50_000)
TIMED = 300  # inserts timed at each size


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="comments-duplicate-cost-"))
    server = EmbeddedPostgres(folder / "data")
    url = server.start()
    try:
        migrate.migrate(url)
        database = CommentDatabase(url, pool_size=1, connect_timeout=3, statement_timeout_ms=30_000, pool_timeout=3)
        admin = psycopg2.connect(url)
        admin.autocommit = True
        posted = 0
        for size in HISTORY:
            with admin.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO comments (thread, name, comment, status, client) SELECT 't', 'n', 'old ' || n,"
                    " 'published', 'one-client' FROM generate_series(%s, %s) AS n",
                    (posted, size - 1),
                )
                cursor.execute("ANALYZE comments")
            started = time.perf_counter()
            for n in range(TIMED):
                new = NewComment("t", None, "n", f"new {size} {n}")
                database.add(new, status="published", token_hash=b"x" * 32, client="one-client", limit=None)
            posted = size + TIMED
            took = (time.perf_counter() - started) / TIMED * 1000
            print(f"after {size:>6,} recent comments from the client: {took:.2f} ms per insert")
        admin.close()
        database.close()
    finally:
        server.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
