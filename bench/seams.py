"""`pipenv run python bench/seams.py edits|slow-store`: two of the seams issue's measurements.

edits       one edit token PATCHing its comment as fast as it can for 3 s (RATE_LIMIT_POSTS
            5/minute), with a reader beside it: how many edits were applied, and read latency.
slow-store  eight image posts at once while the object store is frozen (SIGSTOP), then five
            reads: what the posts were answered and how long the reads took.

Each run starts its own embedded PostgreSQL (and SeaweedFS), and gunicorn with one worker of four
threads; everything stops by itself.
"""

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import config  # noqa: E402
from devtools.embedded_postgres import EmbeddedPostgres  # noqa: E402
from store import migrate  # noqa: E402
from tests import pictures  # noqa: E402
from tests.conftest import running_seaweedfs  # noqa: E402
from tests.service import Service  # noqa: E402

ONE_WORKER = {"WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "4"}


def edits(url: str) -> str:
    with Service(url, RATE_LIMIT_POSTS="5/minute", **ONE_WORKER) as service:
        created = requests.post(service.url("/comments"), json={"name": "a", "comment": "v0"}, timeout=5).json()
        bearer = {"Authorization": f"Bearer {created['edit_token']}"}
        stop, statuses, reads = time.monotonic() + 3, [], []

        def reader():
            while time.monotonic() < stop:
                started = time.monotonic()
                requests.get(service.url("/comments"), timeout=5)
                reads.append(time.monotonic() - started)
                time.sleep(0.05)

        thread = threading.Thread(target=reader)
        thread.start()
        with requests.Session() as session:
            while time.monotonic() < stop:
                body = {"comment": f"v{len(statuses)}"}
                path = f"/comments/{created['id']}"
                statuses.append(session.patch(service.url(path), json=body, headers=bearer, timeout=5).status_code)
        thread.join()
    counted = Counter(statuses)
    return (
        f"edits in 3 s: {len(statuses)} sent, {counted[200]} applied, {counted[429]} refused 429; reads meanwhile"
        f" p50 {statistics.median(reads) * 1000:.1f} ms, max {max(reads) * 1000:.1f} ms"
    )


def slow_store(url: str) -> str:
    with running_seaweedfs() as store:
        environment = {**store.environment, "MEDIA_BUCKET": "slow"}
        migrate.prepare_bucket(config.from_environment({"DATABASE_URL": url, **environment}))
        with Service(url, **environment, **ONE_WORKER, RATE_LIMIT_POSTS="off") as service:
            store.pause()
            try:

                def post(n: int):
                    started = time.monotonic()
                    image = {"image": ("p.png", pictures.still("PNG", colour=(n, 1, 1)))}
                    fields = {"name": "a", "comment": f"picture {n}"}
                    answer = requests.post(service.url("/comments"), data=fields, files=image, timeout=30)
                    return answer.status_code, answer.json().get("code"), time.monotonic() - started

                with ThreadPoolExecutor(8) as pool:
                    posts = [pool.submit(post, n) for n in range(8)]
                    time.sleep(0.5)
                    reads = []
                    for _ in range(5):
                        started = time.monotonic()
                        requests.get(service.url("/comments"), timeout=30)
                        reads.append(time.monotonic() - started)
                    answers = [future.result() for future in posts]
            finally:
                store.resume()
    counted = Counter(f"{status} {code}" for status, code, _ in answers)
    slowest = max(took for *_, took in answers)
    return (
        f"8 image posts on a frozen store: {dict(counted)}, slowest {slowest:.1f} s;"
        f" reads meanwhile: {', '.join(f'{read * 1000:.0f}' for read in reads)} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("edits", "slow-store"))
    what = parser.parse_args().what
    folder = Path(tempfile.mkdtemp(prefix="comments-seams-"))
    server = EmbeddedPostgres(folder / "data")
    url = server.start()
    try:
        migrate.migrate(url)
        print(edits(url) if what == "edits" else slow_store(url))
    finally:
        server.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
