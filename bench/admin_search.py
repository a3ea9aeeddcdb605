"""`pipenv run python bench/admin_search.py`: how fast the admin app's listing answers, with its
filters and text search, on a million comments (the bar: under 100 ms).

A throwaway embedded PostgreSQL gets a million comments (SQL-generated: 20,000 threads, words
drawn from a vocabulary where some are in half the comments and some in a handful, a few
thousand pending), then each query the app runs for /admin/list is timed as the app sends it
(psycopg2, the same SQL from api/admin_app.py), median of 20 runs after one warm-up.
"""

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.admin_app import LISTING  # noqa: E402
from devtools.embedded_postgres import EmbeddedPostgres  # noqa: E402
from store import migrate  # noqa: E402

COMMENTS = 1_000_000
RUNS = 20
SEED = f"""INSERT INTO comments (thread, name, comment, status, client)
    SELECT 'thread-' || (n % 20000), 'Reader ' || (n % 5000),
        'common ' || (CASE WHEN n % 2 = 0 THEN 'often ' ELSE '' END)
            || (CASE WHEN n % 100000 = 7 THEN 'zebra ' ELSE '' END) || md5(n::text) || ' words number ' || n,
        CASE WHEN n % 250 = 0 THEN 'pending' ELSE 'published' END, md5((n % 3000)::text)
    FROM generate_series(1, {COMMENTS}) AS n"""
CASES = {
    "every comment, first page": {},
    "a common word (in half)": {"q": "often"},
    "a rare word (in 10)": {"q": "zebra"},
    "a name": {"q": "reader 42"},
    "a word nobody wrote": {"q": "unwritten"},
    "status pending": {"status": "pending"},
    "one thread": {"thread": "thread-77"},
    "one client": {"client": "e4da3b7fbbce2345d7772b0674a318d5"},
    "a word in one thread": {"q": "often", "thread": "thread-78"},
}


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="comments-admin-search-"))
    server = EmbeddedPostgres(folder / "data")
    try:
        url = server.start()
        migrate.migrate(url)
        conn = psycopg2.connect(url)
        conn.autocommit = True
        with conn.cursor() as cursor:
            started = time.monotonic()
            cursor.execute(SEED)
            cursor.execute("VACUUM ANALYZE comments")
            print(f"seeded {COMMENTS:,} comments in {time.monotonic() - started:.0f} s")
            print("| /admin/list | median ms | rows |\n| --- | ---: | ---: |")
            for name, filters in CASES.items():
                params = {"status": None, "thread": None, "client": None, "q": None, **filters}
                params.update(txid=None, created_at=None, id=None)
                timings, rows = [], 0
                for run in range(RUNS + 1):
                    began = time.perf_counter()
                    cursor.execute(LISTING, params)
                    rows = len(cursor.fetchall())
                    if run:
                        timings.append((time.perf_counter() - began) * 1000)
                print(f"| {name} | {statistics.median(timings):.1f} | {rows} |")
        conn.close()
    finally:
        server.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
