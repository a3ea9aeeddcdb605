"""Three API replicas behind compose's nginx (issue 13): requests spread over all of them, the
rate limit counts across them, and a replica killed under load costs no read after nginx has
noticed and no acknowledged comment, none twice (POSTs retried with their Idempotency-Key)."""

import json
import subprocess
import threading
import time
import uuid
from collections import Counter

import pytest
import requests

from tests.test_containers import Stack, require_engine  # noqa: F401 - the engine check applies here too

pytestmark = pytest.mark.docker
REPLICAS = 3
KILL_AT, START_AT, LOAD_SECONDS = 6.0, 14.0, 24.0
NOTICE_WINDOW = 3.0  # seconds after the kill within which a read may still fail


@pytest.fixture(scope="module")
def scaled():
    stack = Stack(RATE_LIMIT_POSTS="off")
    try:
        stack.up("--scale", f"api={REPLICAS}")
        yield stack
    finally:
        stack.compose("down", "-v", "--remove-orphans", check=False)


def replicas(stack: Stack) -> list[str]:
    return stack.compose("ps", "-q", "api").stdout.split()


def serving_replicas(stack: Stack, request_ids: set[str]) -> set[str]:
    """Which api containers logged these request ids (compose prefixes each line with its name)."""
    time.sleep(0.5)
    served = set()
    for row in stack.compose("logs", "--no-log-prefix=false", "api", check=False).stdout.splitlines():
        name, _, line = row.partition("|")
        if line.strip().startswith("{") and json.loads(line).get("request_id") in request_ids:
            served.add(name.strip())
    return served


def test_requests_are_spread_over_every_replica(scaled):
    assert len(replicas(scaled)) == REPLICAS
    ids = {f"spread-{n}-{uuid.uuid4().hex[:6]}" for n in range(30)}
    for request_id in ids:
        response = requests.get(f"{scaled.base}/healthz", headers={"X-Request-ID": request_id}, timeout=10)
        assert response.status_code == 200
    assert len(serving_replicas(scaled, ids)) == REPLICAS


class Load:
    """Readers and posters through nginx; posters retry with the same Idempotency-Key until 201."""

    def __init__(self, stack: Stack, readers: int = 4, posters: int = 4):
        self.base, self.stop = stack.base, threading.Event()
        self.started = time.monotonic()
        self.failed_reads: list[float] = []  # seconds since start
        self.reads = 0
        self.acknowledged: list[str] = []  # the words of every comment answered 201
        self.lost_posts: list[str] = []  # posts that never got a 201
        self.retries = 0
        self.threads = [threading.Thread(target=self.read) for _ in range(readers)]
        self.threads += [threading.Thread(target=self.post) for _ in range(posters)]

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def now(self) -> float:
        return time.monotonic() - self.started

    def read(self) -> None:
        while not self.stop.is_set():
            try:
                ok = requests.get(f"{self.base}/comments?thread=scale&limit=5", timeout=5).status_code == 200
            except requests.RequestException:
                ok = False
            self.reads += 1
            if not ok:
                self.failed_reads.append(self.now())

    def post(self) -> None:
        while not self.stop.is_set():
            words, key = f"scale {uuid.uuid4()}", str(uuid.uuid4())
            for _ in range(50):
                try:
                    response = requests.post(
                        f"{self.base}/comments",
                        json={"thread": "scale", "name": "Load", "comment": words},
                        headers={"Idempotency-Key": key},
                        timeout=5,
                    )
                    if response.status_code == 201:
                        self.acknowledged.append(words)
                        break
                except requests.RequestException:
                    pass
                self.retries += 1
                time.sleep(0.2)
            else:
                self.lost_posts.append(words)


def stored_words(stack: Stack) -> Counter:
    words, cursor = Counter(), None
    while True:
        params = {"thread": "scale", "limit": 100, **({"cursor": cursor} if cursor else {})}
        page = requests.get(f"{stack.base}/comments", params=params, timeout=10).json()
        words.update(comment["comment"] for comment in page["comments"])
        cursor = page["next_cursor"]
        if cursor is None:
            return words


def test_a_replica_killed_under_load_costs_no_read_and_no_comment(scaled):
    victim = replicas(scaled)[0]
    with Load(scaled) as load:
        time.sleep(KILL_AT)
        subprocess.run(["docker", "kill", victim], check=True, capture_output=True, timeout=30)
        killed_at = load.now()
        time.sleep(START_AT - KILL_AT)
        subprocess.run(["docker", "start", victim], check=True, capture_output=True, timeout=30)
        time.sleep(LOAD_SECONDS - START_AT)
    late = [t for t in load.failed_reads if t > killed_at + NOTICE_WINDOW]
    print(
        f"\n{load.reads} reads, {len(load.failed_reads)} failed "
        f"({[round(t - killed_at, 2) for t in load.failed_reads]} s after the kill); "
        f"{len(load.acknowledged)} posts acknowledged, {load.retries} retries"
    )
    assert not late, f"reads failed {NOTICE_WINDOW} s or more after the kill: {late}"
    assert not load.lost_posts
    stored = stored_words(scaled)
    assert all(stored[words] == 1 for words in load.acknowledged), "an acknowledged comment is missing"
    assert max(stored.values()) == 1, "a comment was stored twice"
    assert len(load.acknowledged) > 50


def test_the_rate_limit_counts_across_replicas(scaled):
    scaled.env["RATE_LIMIT_POSTS"] = "5/minute"
    scaled.up("--scale", f"api={REPLICAS}")  # recreates the api containers with the limit
    ids = {f"limit-{n}-{uuid.uuid4().hex[:6]}": n for n in range(12)}
    statuses = []
    for request_id, n in ids.items():
        response = requests.post(
            f"{scaled.base}/comments",
            json={"thread": "limits", "name": "A", "comment": f"post {n}"},
            headers={"X-Request-ID": request_id},
            timeout=10,
        )
        statuses.append(response.status_code)
    assert Counter(statuses) == {201: 5, 429: 7}
    assert len(serving_replicas(scaled, set(ids))) >= 2  # the five were not all one replica's
