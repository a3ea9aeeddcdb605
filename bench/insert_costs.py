"""`pipenv run python bench/insert_costs.py`: what each feature costs a POST inside PostgreSQL.

A POST is one statement (db.py's insert) and its commit. This runs it the way the service does
(prepared, generic plan, autocommit) on a database seeded as `pipenv run bench` seeds it (on
its own embedded PostgreSQL, or the server DATABASE_URL names, which must run on this machine:
the backend's CPU is read from /proc), once as it is and then with one feature taken away at a time, and reports the
server's CPU per insert (the backend process's user and system time, from /proc) and the
client's wall time. Rounds are interleaved, so the machine's drift hits every variant alike;
each figure is the median of the rounds. docs/performance.md has the table.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import db  # noqa: E402
from bench.cpu import tree_seconds  # noqa: E402
from bench.run import Databases, _seed  # noqa: E402
from store import migrate, outbox  # noqa: E402

INSERT_TYPES = db._PARAMETER_TYPES["insert_limited"]  # the service's own declaration
WITHOUT_EVENTS = db.STATEMENTS["insert_limited"].replace(outbox.EVENTS_OF_INSERTED, "events AS (SELECT 1 WHERE false)")
WITHOUT_NOTIFY = db.STATEMENTS["insert_limited"].replace(outbox.NOTIFY_IF_EVENTS, "NULL")


class Variant:
    """The insert statement, and what is changed around it (run on its connection before timing)."""

    def __init__(self, name: str, sql: str = db.STATEMENTS["insert_limited"], setup: tuple[str, ...] = ()):
        self.name, self.sql, self.setup = name, sql, setup


# Each variant takes one feature away; "as served" is the statement the service runs.
VARIANTS = (
    Variant("as served"),
    Variant("without the rate limiter", db.STATEMENTS["insert_unlimited"]),
    Variant("without outbox events and NOTIFY", WITHOUT_EVENTS),
    Variant("without NOTIFY (events kept)", WITHOUT_NOTIFY),
    Variant("without the counts trigger (counts, versions)", setup=("counts_off",)),
    *(
        Variant(f"without {index}", setup=(f"drop:{index}",))
        for index in (
            "comments_search_idx",
            "comments_order_idx",
            "comments_status_order_idx",
            "comments_created_at_idx",
            "comments_top_idx",
        )
    ),
    Variant("without durable commit (synchronous_commit off)", setup=("async_commit",)),
)


def run(url: str, variant: Variant, inserts: int, round_number: int) -> tuple[float, float]:
    """Server CPU and client wall time per insert, in ms."""
    conn = psycopg2.connect(url, options="-c plan_cache_mode=force_generic_plan")
    conn.autocommit = True
    with conn.cursor() as cursor:
        if "async_commit" in variant.setup:
            cursor.execute("SET synchronous_commit = off")
        cursor.execute(f"PREPARE insert_comment {INSERT_TYPES} AS {variant.sql}")
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
        started_cpu, started = tree_seconds(pid), time.perf_counter()
        for n in range(inserts):
            # Each insert from its own client, words and thread, as bench/post.lua posts them.
            words = f"Benchmark post {round_number}.{n} of {variant.name}, about as long as a short real one."
            cursor.execute(
                "EXECUTE insert_comment (%s, NULL, 'Reader', %s, 'published', %s, %s, 0.001, 60, NULL, false,"
                " '[]', '{}', NULL, %s)",
                (f"post-{n % 64}", words, b"token hash", f"client-{n}", f"<p>{words}</p>"),
            )
            cursor.fetchone()
        wall, cpu = time.perf_counter() - started, tree_seconds(pid) - started_cpu
    conn.close()
    return cpu * 1000 / inserts, wall * 1000 / inserts


def toggle(url: str, variant: Variant, on: bool, indexes: dict[str, str]) -> None:
    """Take a feature away for this variant (on=False), or give it back."""
    admin = psycopg2.connect(url)
    admin.autocommit = True
    with admin.cursor() as cursor:
        if "counts_off" in variant.setup:
            cursor.execute(f"ALTER TABLE comments {'ENABLE' if on else 'DISABLE'} TRIGGER comments_count_inserted")
        for index in (step.removeprefix("drop:") for step in variant.setup if step.startswith("drop:")):
            cursor.execute(indexes[index] if on else f"DROP INDEX {index}")
    admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inserts", type=int, default=2000, help="inserts per variant and round (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    args = parser.parse_args()
    databases = Databases()
    try:
        (url,) = databases.fresh("comments_insert_costs")
        migrate.migrate(url)
        _seed(url, 0)  # the benchmark's 1,000 comments
        with psycopg2.connect(url) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'comments'")
            indexes = dict(cursor.fetchall())
        conn.close()
        results = {variant.name: [] for variant in VARIANTS}
        for round_number in range(args.rounds):
            for variant in VARIANTS:
                toggle(url, variant, on=False, indexes=indexes)
                try:
                    results[variant.name].append(run(url, variant, args.inserts, round_number))
                finally:
                    toggle(url, variant, on=True, indexes=indexes)
        print(report(results, args))
    finally:
        databases.close()


def report(results: dict, args) -> str:
    served_cpu = statistics.median(cpu for cpu, _ in results["as served"])
    lines = [
        f"{args.rounds} interleaved rounds of {args.inserts} inserts per variant; medians",
        "",
        "| variant | PostgreSQL CPU ms/insert | saved vs as served | client wall ms/insert |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, runs in results.items():
        cpu = statistics.median(value for value, _ in runs)
        wall = statistics.median(value for _, value in runs)
        saved = "" if name == "as served" else f"{(served_cpu - cpu) * 1000:.0f} µs"
        lines.append(f"| {name} | {cpu:.3f} | {saved} | {wall:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
