"""`pipenv run python bench/feature_costs.py`: what each part of a request costs the API's CPU.

For each target it starts PostgreSQL and the service as `pipenv run bench` does, runs the
benchmark's load (wrk, 16 connections), and meanwhile samples one worker with py-spy, counting
only threads that hold the GIL (so waiting for PostgreSQL or a socket is not counted). Each
sample is given to the deepest part of the request it is in (the table below), and the part's
share of the samples times the measured API CPU per request is its cost. That is an estimate:
CPU spent without the GIL (the kernel's side of sockets, libpq) is spread over the parts in
proportion. PostgreSQL's side of a POST is measured by bench/insert_costs.py.

Needs py-spy (`pip install py-spy`) and wrk. docs/performance.md has the table.
"""

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from cpu import Meter  # noqa: E402
from run import POST_ENV, POST_SCRIPT, Databases, wrk  # noqa: E402

from tests.service import Service  # noqa: E402

PAGE = "/comments?thread=bench&limit=20"
TARGETS = {  # name -> (path, wrk script, service environment)
    "post": ("/comments", POST_SCRIPT, POST_ENV),
    "page": (PAGE, None, {}),
    "one": ("/comments/7", None, {}),
    "poll 304": (PAGE, None, {}),
}
# The parts of a request, by where their code lives; the deepest match in a stack wins, so
# Markdown rendered inside the database call counts as formatting.
PARTS = (
    ("formatting (Markdown)", ("core/formatting.py",)),
    ("spam rules", ("core/spam.py",)),
    ("edit token", ("new_edit_token",)),
    ("client pseudonym (HMAC)", ("current_client", "client_fingerprint")),
    ("idempotency check", ("web/idempotency.py",)),
    ("validation", ("validate_new_comment",)),
    ("reading the body", ("read_body",)),
    ("reading the query", ("read_list_query",)),
    ("access log line", ("log_request",)),
    ("request id, headers, CORS", ("web/middleware.py",)),
    ("database call (psycopg2, pool)", ("CommentDatabase._run", "store/pool.py")),
    ("db.py (rows to Comments)", ("db.py",)),
    ("the answer (JSON, headers)", ("jsonify", "_page_response", "_page_answer", "_tag", "json_provider.py", "_send")),
    ("view code", ("api/comments.py",)),
    ("Flask and werkzeug", ("flask/", "werkzeug/")),
    ("gunicorn (HTTP, threads)", ("gunicorn/", "concurrent/futures", "threading.py", "selectors.py")),
)
IDLE = ("select (selectors", "wait (threading", "poll (selectors")


def profile(name: str, url: str, seconds: float) -> tuple[dict, float, float]:
    """The parts' shares of one worker's GIL samples, the API CPU per request, the rate."""
    path, script, env = TARGETS[name]
    service = Service(url, **env).start()
    folder = Path(tempfile.mkdtemp(prefix="comments-feature-costs-"))
    try:
        headers = ()
        if name == "poll 304":
            headers = (f"If-None-Match: {requests.get(service.url(PAGE), timeout=5).headers['ETag']}",)
        wrk(service.url(path), 2, script, headers)  # warm up
        worker = Path(f"/proc/{service.process.pid}/task/{service.process.pid}/children").read_text().split()[0]
        raw = folder / "samples.txt"
        meter = Meter(service.process.pid, None)
        sampling = ["--gil", "--nonblocking", "-r", "400", "-d", str(int(seconds))]
        command = ["py-spy", "record", *sampling, "-f", "raw", "-o", str(raw), "-p", worker]
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        run = wrk(service.url(path), seconds, script, headers)
        api_ms, _ = meter.per_request_ms(run["requests"])
        spy.wait(timeout=60)
        return shares(raw), api_ms, run["rps"]
    finally:
        service.stop()
        shutil.rmtree(folder, ignore_errors=True)


def shares(raw: Path) -> dict[str, float]:
    counts: collections.Counter = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if any(idle in frames[-1] for idle in IDLE):
            continue
        part = next((part for frame in reversed(frames) for part, keys in PARTS if any(k in frame for k in keys)), None)
        counts[part or "other"] += int(count)
    total = sum(counts.values()) or 1
    return {part: count / total for part, count in counts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10, help="length of each profiled run (default 10)")
    parser.add_argument("targets", nargs="*", default=list(TARGETS), help=f"of {', '.join(TARGETS)} (default all)")
    args = parser.parse_args()
    databases = Databases()
    try:
        url, _ = databases.prepare(0)
        results = {name: profile(name, url, args.seconds) for name in args.targets}
    finally:
        databases.close()
    print(report(results))


def report(results: dict) -> str:
    names = list(results)
    lines = [
        "API CPU per request by part, in µs (share of the worker's GIL samples x API CPU per request)",
        "",
        f"| part | {' | '.join(names)} |",
        f"| --- | {' | '.join('---:' for _ in names)} |",
    ]
    parts = [part for part, _ in PARTS] + ["other"]
    for part in parts:
        cells = [results[name][0].get(part, 0.0) * results[name][1] * 1000 for name in names]
        if any(cell >= 1 for cell in cells):
            lines.append(f"| {part} | {' | '.join(f'{cell:.0f}' for cell in cells)} |")
    lines.append(f"| **API CPU per request** | {' | '.join(f'**{results[n][1] * 1000:.0f}**' for n in names)} |")
    lines.append(f"| (rate, req/s) | {' | '.join(f'{results[n][2]:.0f}' for n in names)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
