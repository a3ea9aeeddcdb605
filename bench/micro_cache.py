"""`pipenv run python bench/micro_cache.py`: one hot thread read through compose's nginx, with
and without its one-second micro-cache (nginx/micro-cache.conf).

Needs the stack running (`docker compose up --build -d`; the base URL is the first argument,
http://localhost:5000 by default). Seeds 20 comments into a thread of its own, then wrk (16
connections) reads its first page in turns: as any reader does (served by nginx's copy, one
request a second reaching the API), and with an Authorization header, which nginx passes
straight to the API (what the same load costs without the cache). Rounds are interleaved.
"""

import statistics
import sys
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import wrk  # noqa: E402

ROUNDS, SECONDS = 3, 5


def main() -> None:
    base = sys.argv[1] if len(sys.argv) > 1 else "http://localhost:5000"
    thread = f"hot-{uuid.uuid4().hex[:8]}"
    for n in range(20):
        body = {"name": f"Reader {n}", "comment": f"A comment on a busy thread, number {n}.", "thread": thread}
        requests.post(f"{base}/comments", json=body, headers={"X-Forwarded-For": f"198.51.100.{n}"}, timeout=10)
    url = f"{base}/comments?thread={thread}&limit=20"
    loads = {"cached": (), "uncached": ("Authorization: Bearer past-the-cache",)}
    runs = {name: [] for name in loads}
    for headers in loads.values():
        wrk(url, 1, None, headers)  # warm up
    for _ in range(ROUNDS):
        for name, headers in loads.items():
            runs[name].append(wrk(url, SECONDS, None, headers))
    cached, uncached = runs["cached"], runs["uncached"]
    ratio = statistics.median(a["rps"] / b["rps"] for a, b in zip(cached, uncached, strict=True))
    for name, results in runs.items():
        rps, p99 = statistics.median(r["rps"] for r in results), statistics.median(r["p99"] for r in results)
        print(f"{name}: {rps:,.0f} req/s, p99 {p99:.1f} ms, errors {sum(r['errors'] for r in results)}")
    print(f"cached / uncached = {ratio:.1f}x (bar: 5x, cached p99 under 20 ms)")


if __name__ == "__main__":
    main()
