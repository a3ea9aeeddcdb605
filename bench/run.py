"""`pipenv run bench`: how fast the comments API is, against the most it could be on this machine.

Starts its own PostgreSQL (embedded, or the server DATABASE_URL names: it creates two databases
there), seeds them, starts the service exactly as `pipenv run serve` does, and drives it with wrk
on localhost. Targets are interleaved round by round, so drift of the machine hits all alike:

  ceiling      a database-free Flask page of 20 comments, under the same gunicorn.conf.py
  page 1k      GET /comments?thread=bench&limit=20   (table of ~1,000 rows)
  one 1k       GET /comments/{id}
  post 1k      POST /comments                          (durable: synchronous_commit on; RATE_LIMIT_POSTS=off)
  post limited the same POST with the rate limiter on, at a limit too high to trip
  post image   POST /comments as multipart with a 100 KiB JPEG (re-encoded, stored in SeaweedFS)
  poll 304     a widget's idle poll: GET from the thread's end with the ETag it got (a 304)
  counts 100   GET /counts for 100 threads, one of them holding 1,000,000 comments
  page 1M      the same GET with 1,000,000 more rows in another thread
  all 1M       GET /comments?limit=20 across all threads at that size

Then a fresh service takes 8 concurrent uploads of a 5 MiB JPEG, three times over, and its
workers' peak memory is reported. Then one worker (delivery/worker.py) delivers the events those POSTs
left in the outbox to a local webhook receiver, and its deliveries per second are reported.

Beside each rate, the CPU per request of the service's processes and of PostgreSQL's (bench/cpu.py).
Prints a table and writes it into docs/performance.md between the bench markers.
`pipenv run bench --sweep` compares gunicorn configurations instead.
"""

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import config  # noqa: E402
from bench.cpu import Meter  # noqa: E402
from bench.widget_load import widget_report  # noqa: E402
from devtools.embedded_postgres import EmbeddedPostgres, with_database  # noqa: E402
from devtools.embedded_seaweedfs import EmbeddedSeaweedFS  # noqa: E402
from store import migrate  # noqa: E402
from tests.receivers import Receiver, WorkerProcess  # noqa: E402
from tests.service import Service  # noqa: E402

CONNECTIONS = 16
SEED_ROWS = 1_000
ONE_ID = SEED_ROWS // 2  # the comment read by the "one 1k" target
BULK_ROWS = 1_000_000
README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"
POST_SCRIPT = ROOT / "bench" / "post.lua"
IMAGE_SCRIPT = ROOT / "bench" / "post_image.lua"
UPLOADS_AT_ONCE = 8
BENCH_JPEG = Path(tempfile.gettempdir()) / "comments-bench-100k.jpg"  # read by post_image.lua
WIDGET_POLL_SECONDS = 15  # the widget's default (widget/src/thread.js)
SWEEP = [(4, 1), (6, 1), (2, 2), (3, 2), (4, 2), (2, 4), (4, 4)]  # (WEB_CONCURRENCY, GUNICORN_THREADS)


@dataclass
class Result:
    rps: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    api_ms: list[float] = field(default_factory=list)  # CPU per request in the service's processes
    pg_ms: list[float] = field(default_factory=list)  # ... and in PostgreSQL's (when it is ours to see)
    errors: int = 0
    peak_rss_mb: float = 0.0

    def add(self, run: dict) -> None:
        self.rps.append(run["rps"])
        self.p50.append(run["p50"])
        self.p99.append(run["p99"])
        self.errors += run["errors"]
        self.api_ms.append(run.get("api_ms", 0.0))
        if run.get("pg_ms") is not None:
            self.pg_ms.append(run["pg_ms"])

    @property
    def median_rps(self) -> float:
        return statistics.median(self.rps)

    def cpu(self) -> str:
        """ "API + PostgreSQL" CPU ms per request, medians."""
        pg = f"{statistics.median(self.pg_ms):.3f}" if self.pg_ms else "n/a"
        return f"{statistics.median(self.api_ms):.3f} | {pg}"


def wrk(url: str, seconds: float, script: Path | None = None, headers: tuple[str, ...] = ()) -> dict:
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--latency", url]
    for header in headers:
        command[1:1] = ["-H", header]
    if script:
        command[1:1] = ["-s", str(script)]
        command += ["--", str(time.time_ns())]  # the script's run id: every run posts new words
        if script == IMAGE_SCRIPT:
            command.append(str(BENCH_JPEG))
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(re.search(r"\s50%\s+([\d.]+\w+)", out).group(1)),
        "p99": _ms(re.search(r"\s99%\s+([\d.]+\w+)", out).group(1)),
        "errors": errors + (int(non_2xx.group(1)) if non_2xx else 0),
    }


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def peak_rss_mb(service: Service) -> float:
    """The largest peak resident set (VmHWM) among the service's worker processes."""
    children = Path(f"/proc/{service.process.pid}/task/{service.process.pid}/children").read_text().split()
    peaks = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        peaks.append(int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024)
    return max(peaks, default=0.0)


class Databases:
    """Two databases on one server: 'small' (~1k rows) and 'big' (the same plus 1M in another thread)."""

    def __init__(self):
        self.folder = None
        self.server = None
        base = os.environ.get("DATABASE_URL")
        if not base:
            self.folder = Path(tempfile.mkdtemp(prefix="comments-bench-"))
            self.server = EmbeddedPostgres(self.folder / "data")
            base = self.server.start()
        self.base = base

    def fresh(self, *names: str) -> list[str]:
        """Empty databases of these names on the server (dropped first if they exist); their URLs."""
        admin = psycopg2.connect(self.base)
        admin.autocommit = True
        with admin.cursor() as cursor:
            for name in names:
                cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                cursor.execute(f"CREATE DATABASE {name}")
        admin.close()
        return [with_database(self.base, name) for name in names]

    def prepare(self, bulk_rows: int) -> tuple[str, str]:
        small, big = self.fresh("comments_bench_small", "comments_bench_big")
        for url, rows in ((small, 0), (big, bulk_rows)):
            migrate.migrate(url)
            _seed(url, rows)
        return small, big

    def postgres_pid(self) -> int | None:
        """The postmaster's process id, when the server is our own (else its CPU is not ours to see)."""
        return self.server.postmaster_pid() if self.server else None

    def server_version(self) -> str:
        with psycopg2.connect(self.base) as conn, conn.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        conn.close()
        return version

    def close(self) -> None:
        if self.server:
            self.server.stop()
            shutil.rmtree(self.folder, ignore_errors=True)


def _seed(url: str, bulk_rows: int, rendered: bool = True) -> None:
    """`rendered`: with each comment's html, as posts store it (core/formatting.py renders these
    plain sentences as one paragraph); False for code from before formatting (bench/versus.py)."""
    columns, html = (
        ("thread, name, comment, html", ", '<p>' || text || '</p>'") if rendered else ("thread, name, comment", "")
    )
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO comments ({columns}) SELECT 'bench', 'Reader ' || n, text{html} FROM ("
            "  SELECT n, 'Benchmark comment number ' || n || ', about as long as a short real one.' AS text"
            "  FROM generate_series(1, %s) AS n) AS seed",
            (SEED_ROWS,),
        )
        if bulk_rows:
            cursor.execute(
                f"INSERT INTO comments ({columns}) SELECT 'bulk', 'Bulk ' || n, text{html} FROM ("
                "  SELECT n, 'Bulk comment ' || n AS text FROM generate_series(1, %s) AS n) AS seed",
                (bulk_rows,),
            )
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE comments")
    conn.close()


def ceiling_service(**env: str) -> Service:
    """bench/ceiling.py under the project's gunicorn.conf.py (which wants a DATABASE_URL it never uses)."""
    return Service("postgresql://unused@127.0.0.1:1/unused", "bench.ceiling:app", **env).start("/comments")


# POST targets name their clients in X-Forwarded-For (bench/post.lua), so one proxy hop is trusted.
POST_ENV = {"TRUSTED_PROXIES": "1"}
LIMITED_ENV = {**POST_ENV, "RATE_LIMIT_POSTS": "1000000/second"}
COUNTS_PATH = "/counts?" + "&".join(["thread=bulk", *(f"thread=t{n}" for n in range(99))])


def targets(
    ceiling: Service, small: Service, big: Service, limited: Service | None = None, media: Service | None = None
) -> dict:
    plan = {
        "ceiling": (ceiling, "/comments", None),
        "page 1k": (small, "/comments?thread=bench&limit=20", None),
        "one 1k": (small, f"/comments/{ONE_ID}", None),
        "post 1k": (small, "/comments", POST_SCRIPT),
    }
    if limited:
        # Right after "post 1k": the 1M targets churn PostgreSQL's buffer cache, and whichever
        # POST ran after them would pay for it (that alone once made the limiter look 18% dear).
        plan["post limited"] = (limited, "/comments", POST_SCRIPT)
    if media:
        plan["post image"] = (media, "/comments", IMAGE_SCRIPT)
    plan["poll 304"] = (small, *revalidation(small))
    plan |= {
        "page 1M": (big, "/comments?thread=bench&limit=20", None),
        "all 1M": (big, "/comments?limit=20", None),
        "counts 100": (big, COUNTS_PATH, None),
    }
    return plan


def revalidation(service: Service) -> tuple[str, None, tuple[str]]:
    """A widget's idle poll: from the end of the thread (poll_cursor), with the ETag it got."""
    import requests

    end = requests.get(service.url("/comments?thread=bench&limit=100"), timeout=10).json()["poll_cursor"]
    path = f"/comments?thread=bench&limit=100&cursor={end}"
    etag = requests.get(service.url(path), timeout=10).headers["ETag"]
    return path, None, (f"If-None-Match: {etag}",)


def measure(plan: dict, rounds: int, seconds: float, postgres_pid: int | None = None) -> dict[str, Result]:
    """Each target: (service, path, wrk script or None[, request headers])."""
    for service, path, script, *headers in plan.values():  # warm up: imports, pools, caches
        wrk(service.url(path), 1, script, *headers)
    results = {name: Result() for name in plan}
    for round_number in range(rounds):
        for name, (service, path, script, *headers) in plan.items():
            meter = Meter(service.process.pid, postgres_pid)
            run = wrk(service.url(path), seconds, script, *headers)
            run["api_ms"], run["pg_ms"] = meter.per_request_ms(run["requests"])
            results[name].add(run)
        print(f"  round {round_number + 1}/{rounds} done", flush=True)
    for name, (service, *_) in plan.items():
        results[name].peak_rss_mb = peak_rss_mb(service)
    return results


def jpeg_of_about(target_bytes: int, path: Path) -> int:
    """A noisy photo-like JPEG just under `target_bytes` (noise does not compress)."""
    import io

    from PIL import Image

    side, data = 400.0, b""
    for _ in range(4):
        out = io.BytesIO()
        Image.effect_noise((int(side * 1.2), int(side)), 40).convert("RGB").save(out, "JPEG", quality=90)
        data = out.getvalue()
        side *= (target_bytes * 0.97 / len(data)) ** 0.5
    path.write_bytes(data)
    return len(data)


def upload_memory(database_url: str, media_env: dict, rounds: int = 3) -> str:
    """A fresh service's workers' peak RSS after rounds of 8 concurrent 5 MiB uploads."""
    import threading

    import requests

    photo = Path(tempfile.mkdtemp(prefix="comments-bench-")) / "five.jpg"
    size = jpeg_of_about(5 * 1024 * 1024, photo)
    service = Service(database_url, **POST_ENV, **media_env).start()
    statuses = []

    def upload(n: int) -> None:
        response = requests.post(
            service.url("/comments"),
            data={"thread": "bench-upload", "name": "Bench", "comment": f"upload {time.time_ns()} {n}"},
            files={"image": ("five.jpg", photo.read_bytes())},
            headers={"X-Forwarded-For": f"198.20.0.{n}"},
            timeout=60,
        )
        statuses.append(response.status_code)

    try:
        idle = peak_rss_mb(service)
        for _ in range(rounds):
            uploads = [threading.Thread(target=upload, args=(n,)) for n in range(UPLOADS_AT_ONCE)]
            for thread in uploads:
                thread.start()
            for thread in uploads:
                thread.join()
        peak = peak_rss_mb(service)
    finally:
        service.stop()
        shutil.rmtree(photo.parent, ignore_errors=True)
    created = statuses.count(201)
    return (
        f"Uploads: {rounds} rounds of {UPLOADS_AT_ONCE} concurrent posts with a {size / 1048576:.1f} MiB JPEG "
        f"({created} of {len(statuses)} created): peak RSS per worker **{peak:.0f} MB** "
        f"(target 150; {idle:.0f} MB after start)."
    )


def worker_throughput(database_url: str, seconds: float = 20) -> str:
    """One worker, one local receiver: deliveries per second over the events already waiting."""
    with psycopg2.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM outbox")
        (events,) = cursor.fetchone()
    conn.close()
    receiver = Receiver(status=204)
    env = {"WEBHOOK_URLS": receiver.url, "WEBHOOK_SECRET": "bench-webhook-secret-" + "x" * 32}
    try:
        with WorkerProcess(database_url, **env):
            started = time.monotonic()
            while len(receiver.received) < events and time.monotonic() - started < seconds:
                time.sleep(0.1)
            delivered, took = len(receiver.received), time.monotonic() - started
    finally:
        receiver.close()
    return (
        f"Worker: one `delivery/worker.py` delivered {delivered} of {events} waiting events to a local webhook "
        f"receiver in {took:.1f} s: **{delivered / took:.0f} deliveries/s** (8 delivery threads, signed JSON POSTs)."
    )


def table(results: dict[str, Result], machine: str) -> str:
    ceiling = results["ceiling"].median_rps
    lines = [
        "| target | req/s | API CPU ms/req | PostgreSQL CPU ms/req | p50 ms | p99 ms | errors "
        "| peak RSS/worker MB | vs ceiling |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r.median_rps:.0f} | {r.cpu()} | {statistics.median(r.p50):.2f} "
            f"| {statistics.median(r.p99):.2f} | {r.errors} | {r.peak_rss_mb:.1f} | {r.median_rps / ceiling:.2f} |"
        )
    page, post = results["page 1k"].median_rps, results["post 1k"].median_rps
    polls = results["poll 304"].median_rps
    lines += [
        "",
        f"GET page / ceiling = **{page / ceiling:.2f}** (target 0.60), "
        f"POST / ceiling = **{post / ceiling:.2f}** (target 0.50), "
        f"page at 1M / page at 1k = **{results['page 1M'].median_rps / page:.2f}** (target 0.85), "
        f"POST with the rate limiter / without = **{results['post limited'].median_rps / post:.2f}** (target 0.90), "
        f"POST with a 100 KiB JPEG / without = **{results['post image'].median_rps / post:.2f}**.",
        "",
        f"Idle readers: a widget left open polls every {WIDGET_POLL_SECONDS} s, and a poll that finds nothing "
        f"is a 304 (`poll 304`). At {polls:.0f} of those a second, one service (its gunicorn and one "
        f"PostgreSQL, as a replica would serve them) keeps **{polls * WIDGET_POLL_SECONDS:,.0f} idle "
        "readers** up to date.",
        "",
        machine,
    ]
    return "\n".join(lines)


def machine_description(database_version: str, seconds: float, rounds: int) -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    settings = config.from_environment(os.environ)  # what gunicorn.conf.py resolves to
    workers, threads = settings.web_concurrency, settings.threads
    return (
        f"Machine: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"PostgreSQL {database_version}, wrk -t2 -c{CONNECTIONS}, {rounds} rounds of {seconds:g} s per target "
        f"(medians), gunicorn {workers} workers x {threads} threads; "
        "wrk, PostgreSQL and gunicorn share the cores."
    )


def write_readme(text: str) -> None:
    readme = ROOT / "docs" / "performance.md"
    content = readme.read_text()
    start, end = content.index(README_START) + len(README_START), content.index(README_END)
    readme.write_text(content[:start] + "\n" + text + "\n" + content[end:])


def run_benchmark(args) -> None:
    databases = Databases()
    store = EmbeddedSeaweedFS(Path(tempfile.mkdtemp(prefix="comments-bench-s3-")))
    services = []
    try:
        print(f"seeding ({SEED_ROWS} rows, plus {args.rows} in another thread for the 1M database)...")
        small_url, big_url = databases.prepare(args.rows)
        media_env = {**store.start(), "MEDIA_BUCKET": "bench-media"}
        migrate.prepare_bucket(config.from_environment({"DATABASE_URL": small_url, **media_env}))
        jpeg_of_about(100 * 1024, BENCH_JPEG)
        ceiling = ceiling_service()
        small, big = Service(small_url, **POST_ENV).start(), Service(big_url).start()
        limited = Service(small_url, **LIMITED_ENV).start()
        media = Service(small_url, **POST_ENV, **media_env).start()
        services += [ceiling, small, big, limited, media]
        plan = targets(ceiling, small, big, limited, media)
        results = measure(plan, args.rounds, args.seconds, databases.postgres_pid())
        for service in services:  # what follows gets the machine to itself
            service.stop()
        services = []
        print("upload memory...", flush=True)
        upload_line = upload_memory(small_url, media_env)
        print("worker throughput...", flush=True)
        worker_line = worker_throughput(small_url)
        print("widget...", flush=True)
        widget_line = widget_report(small_url, "bench")
        report = table(results, machine_description(databases.server_version(), args.seconds, args.rounds))
        extra = f"{upload_line}\n\n{worker_line}\n\n{widget_line}"
        report = report.replace("\n\nMachine:", f"\n\n{extra}\n\nMachine:")
    finally:
        for service in services:
            service.stop()
        store.stop()
        shutil.rmtree(store.data_dir, ignore_errors=True)
        databases.close()
    print()
    print(report)
    if not args.no_readme:
        write_readme(report)
        print("\ndocs/performance.md updated.")


def run_sweep(args) -> None:
    """Ceiling, page and POST under each gunicorn configuration, all running at once and
    interleaved round by round like the main benchmark, to choose the defaults."""
    databases = Databases()
    services, plan = [], {}
    try:
        small_url, _ = databases.prepare(0)
        for workers, threads in SWEEP:
            env = {"WEB_CONCURRENCY": str(workers), "GUNICORN_THREADS": str(threads)}
            ceiling = ceiling_service(**env)
            small = Service(small_url, **env, **POST_ENV).start()
            services += [ceiling, small]
            config_targets = targets(ceiling, small, small)
            for name in ("ceiling", "page 1k", "post 1k"):
                plan[(workers, threads, name)] = config_targets[name]
        results = measure(plan, args.rounds, args.seconds)
    finally:
        for service in services:
            service.stop()
        databases.close()
    best_ceiling = max(r.median_rps for (_, _, name), r in results.items() if name == "ceiling")
    print("\n| WEB_CONCURRENCY | GUNICORN_THREADS | ceiling req/s | of best ceiling ", end="")
    print("| page req/s (p99 ms) | post req/s (p99 ms) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for workers, threads in SWEEP:
        ceiling, page, post = (results[(workers, threads, name)] for name in ("ceiling", "page 1k", "post 1k"))
        print(
            f"| {workers} | {threads} | {ceiling.median_rps:.0f} | {ceiling.median_rps / best_ceiling:.2f} "
            f"| {page.median_rps:.0f} ({statistics.median(page.p99):.1f}) "
            f"| {post.median_rps:.0f} ({statistics.median(post.p99):.1f}) |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5, help="length of each wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over all targets (default 3)")
    parser.add_argument("--rows", type=int, default=BULK_ROWS, help="rows added for the 1M targets")
    parser.add_argument("--no-readme", action="store_true", help="print the table only")
    parser.add_argument("--sweep", action="store_true", help="compare gunicorn configurations instead")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `apt-get install wrk` (Debian/Ubuntu) or `brew install wrk` (macOS).")
    (run_sweep if args.sweep else run_benchmark)(args)


if __name__ == "__main__":
    main()
