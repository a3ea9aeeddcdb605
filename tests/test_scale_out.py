"""Three API replicas behind compose's nginx and a streaming read replica of db (issue 13, with
compose-scale.yml): requests spread over every API replica, reads go to the read replica
and survive it stopping, the rate limit counts across API replicas, and an API replica killed
under load costs no read after nginx has noticed and no acknowledged comment, none twice (POSTs
retried with their Idempotency-Key)."""

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
    stack = Stack("docker-compose.yml", "compose-scale.yml", RATE_LIMIT_POSTS="off")
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


def spread_requests(stack: Stack) -> set[str]:
    """The api containers that served 30 requests in a row."""
    ids = {f"spread-{n}-{uuid.uuid4().hex[:6]}" for n in range(30)}
    for request_id in ids:
        response = requests.get(f"{stack.base}/healthz", headers={"X-Request-ID": request_id}, timeout=10)
        assert response.status_code == 200
    return serving_replicas(stack, ids)


def test_requests_are_spread_over_every_replica(scaled):
    assert len(replicas(scaled)) == REPLICAS
    assert len(spread_requests(scaled)) == REPLICAS


def replica_state(stack: Stack) -> str:
    return requests.get(f"{stack.base}/readyz", timeout=10).json()["replica"]["state"]


def psql(stack: Stack, service: str, sql: str) -> str:
    command = ("exec", "-T", service, "psql", "-U", "comments", "-d", "comments", "-Atc", sql)
    return stack.compose(*command).stdout.strip()


def write_on_primary(stack: Stack, words: str) -> None:
    """A comment written straight into db (not through the API, so no reader counts as its writer)."""
    psql(
        stack,
        "db",
        f"INSERT INTO comments (thread, name, comment, status) VALUES ('replica', 'db', '{words}', 'published')",
    )


def replayed(stack: Stack) -> None:
    position = psql(stack, "db", "SELECT pg_current_wal_lsn()")
    deadline = time.monotonic() + 30
    while psql(stack, "db-replica", f"SELECT pg_last_wal_replay_lsn() >= '{position}'") != "t":
        assert time.monotonic() < deadline, "db-replica did not catch up"
        time.sleep(0.2)


def words_read(stack: Stack) -> set[str]:
    response = requests.get(f"{stack.base}/comments?thread=replica&limit=100", timeout=10)
    assert response.status_code == 200
    return {comment["comment"] for comment in response.json()["comments"]}


def read_page(stack: Stack) -> bool:
    try:
        return requests.get(f"{stack.base}/comments?thread=replica&limit=5", timeout=10).status_code == 200
    except requests.RequestException:
        return False


def reads_come_from_the_replica(stack: Stack, tag: str) -> None:
    """Replay paused on db-replica: a comment written on db after that is missing from every
    read, so every API replica read from db-replica (each within its lag allowance)."""
    write_on_primary(stack, f"{tag} seen")
    replayed(stack)
    psql(stack, "db-replica", "SELECT pg_wal_replay_pause()")
    try:
        write_on_primary(stack, f"{tag} not yet")
        time.sleep(1.2)  # every process has looked at the replica since the pause
        for _ in range(3 * REPLICAS):
            assert words_read(stack) >= {f"{tag} seen"} and f"{tag} not yet" not in words_read(stack)
    finally:
        psql(stack, "db-replica", "SELECT pg_wal_replay_resume()")


def test_reads_go_to_the_read_replica_and_survive_it_stopping(scaled):
    assert replica_state(scaled) == "in use"
    reads_come_from_the_replica(scaled, "before")

    failures = []
    stop = threading.Event()

    def read_on():
        while not stop.is_set():
            failures.extend([time.monotonic()] if not read_page(scaled) else [])

    readers = [threading.Thread(target=read_on) for _ in range(4)]
    for reader in readers:
        reader.start()
    try:
        scaled.compose("stop", "db-replica")
        time.sleep(3)
        assert replica_state(scaled) == "down"
        scaled.compose("start", "db-replica")
        deadline = time.monotonic() + 60
        while replica_state(scaled) != "in use" and time.monotonic() < deadline:
            time.sleep(1)
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert not failures, f"{len(failures)} reads failed while the replica was away"
    reads_come_from_the_replica(scaled, "after")  # back on the replica


class Load:
    """Readers and posters through nginx; posters retry with the same Idempotency-Key until 201."""

    def __init__(self, stack: Stack, readers: int = 4, posters: int = 4):
        self.base, self.stop = stack.base, threading.Event()
        self.started = time.monotonic()
        self.failed_reads: list[float] = []  # seconds since start
        self.reads = 0
        self.slowest_read = (0.0, 0.0)  # (seconds it took, when it started)
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
            started = self.now()
            try:
                ok = requests.get(f"{self.base}/comments?thread=scale&limit=5", timeout=5).status_code == 200
            except requests.RequestException:
                ok = False
            self.reads += 1
            self.slowest_read = max(self.slowest_read, (self.now() - started, started))
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
        f"{len(load.acknowledged)} posts acknowledged, {load.retries} retries; slowest read "
        f"{load.slowest_read[0]:.2f} s, {load.slowest_read[1] - killed_at:.2f} s after the kill"
    )
    assert not late, f"reads failed {NOTICE_WINDOW} s or more after the kill: {late}"
    assert not load.lost_posts
    stored = stored_words(scaled)
    assert all(stored[words] == 1 for words in load.acknowledged), "an acknowledged comment is missing"
    assert max(stored.values()) == 1, "a comment was stored twice"
    assert len(load.acknowledged) > 50
    assert len(spread_requests(scaled)) == REPLICAS  # the restarted replica was found again


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
