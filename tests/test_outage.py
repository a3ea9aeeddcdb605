"""Database outages against a real gunicorn: a PostgreSQL of the test's own is stopped
(`-m immediate`, a crash as far as PostgreSQL knows) and started again while the service runs."""

import socket
import time

import psycopg2
import requests

from tests.service import Posters, Service

LIMIT = 5.0  # seconds: the most an answer may take during an outage, and the most recovery may take


def stored_ids(url: str, thread: str) -> set[int]:
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT id FROM comments WHERE thread = %s", (thread,))
        ids = {i for (i,) in cursor.fetchall()}
    conn.close()
    return ids


def timed(method: str, url: str, **kwargs) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.request(method, url, timeout=30, **kwargs)
    return response, time.monotonic() - started


def wait_for_status(url: str, status: int, timeout: float) -> float:
    """Seconds until `url` answers `status`; fails after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if requests.get(url, timeout=LIMIT).status_code == status:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} did not answer {status} within {timeout}s")


def test_outage_answers_503_fast_and_recovers_by_itself(own_postgres):
    with Service(own_postgres.url) as service:
        assert (
            requests.post(service.url("/comments"), json={"name": "a", "comment": "before"}, timeout=LIMIT).status_code
            == 201
        )

        own_postgres.stop("immediate")
        for method, path, body in [("GET", "/comments", None), ("POST", "/comments", {"name": "a", "comment": "b"})]:
            response, seconds = timed(method, service.url(path), json=body)
            assert response.status_code == 503, response.text
            assert response.json()["code"] == "database_unavailable"
            assert seconds < LIMIT, f"{method} {path} took {seconds:.2f}s"
        ready, seconds = timed("GET", service.url("/readyz"))
        assert ready.status_code == 503 and seconds < LIMIT
        assert requests.get(service.url("/healthz"), timeout=LIMIT).status_code == 200

        own_postgres.start()
        recovery = wait_for_status(service.url("/comments"), 200, LIMIT)
        assert requests.get(service.url("/readyz"), timeout=LIMIT).status_code == 200
        # Every worker recovers, not just the one that answered first.
        answers = [requests.get(service.url("/comments"), timeout=LIMIT).status_code for _ in range(20)]
        assert answers == [200] * 20
        service.assert_clean_logs()
    print(f"\noutage: 503 within {seconds:.3f}s; recovered {recovery:.3f}s after PostgreSQL was back")


def test_outage_while_clients_post_loses_nothing_acknowledged(own_postgres):
    with Service(own_postgres.url) as service, Posters(service, threads=8, seconds=30) as load:
        time.sleep(1.0)
        own_postgres.stop("immediate")
        time.sleep(2.0)
        own_postgres.start()
        back, acknowledged_before = time.monotonic(), load.count(201)
        # Service has resumed only once posts are acknowledged again *after* the restart.
        while load.count(201) == acknowledged_before and time.monotonic() - back < 10:
            time.sleep(0.1)
        during_recovery = time.monotonic() - back
        resumed = load.count(201) - acknowledged_before
        time.sleep(1.0)
        load.stop()
        service.assert_clean_logs()

    statuses = set(load.statuses)
    print(f"\nposting through an outage: {load.count(201)} acknowledged, {load.count(503)} answered 503")
    assert statuses <= {201, 503}, statuses
    assert load.count(503) > 0, "the outage was never noticed"
    assert resumed > 0, "no post was acknowledged after PostgreSQL came back"
    assert not load.slow, f"answers slower than {LIMIT}s: {load.slow}"
    assert not load.failures, load.failures
    assert set(load.acknowledged) <= stored_ids(own_postgres.url, "load")
    assert during_recovery < 10


def test_service_starts_before_the_database_and_becomes_ready(own_postgres):
    own_postgres.stop("immediate")
    with Service(own_postgres.url) as service:  # waits for /healthz only
        assert requests.get(service.url("/readyz"), timeout=LIMIT).status_code == 503
        own_postgres.start()
        became_ready = wait_for_status(service.url("/readyz"), 200, LIMIT)
    print(f"\nready {became_ready:.3f}s after PostgreSQL came up")


def test_a_database_that_never_answers_is_503_within_the_limit():
    """A listener that completes the TCP handshake and then says nothing, like a hung host."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        url = f"postgresql://nobody@127.0.0.1:{silent.getsockname()[1]}/none"
        with Service(url) as service:
            response, seconds = timed("GET", service.url("/comments"))
            ready, ready_seconds = timed("GET", service.url("/readyz"))
    print(f"\nsilent database: 503 after {seconds:.2f}s, /readyz after {ready_seconds:.2f}s")
    assert response.status_code == 503 and response.json()["code"] == "database_unavailable"
    assert ready.status_code == 503
    assert seconds < LIMIT and ready_seconds < LIMIT


def test_a_statement_stuck_behind_a_lock_times_out_as_503(own_postgres):
    blocker = psycopg2.connect(own_postgres.url)
    with Service(own_postgres.url) as service:
        with blocker.cursor() as cursor:
            cursor.execute("LOCK TABLE comments IN ACCESS EXCLUSIVE MODE")  # held until rollback
            response, seconds = timed("POST", service.url("/comments"), json={"name": "a", "comment": "b"})
        blocker.rollback()
        after = requests.post(service.url("/comments"), json={"name": "a", "comment": "b"}, timeout=LIMIT)
    blocker.close()
    print(f"\nlocked table: 503 after {seconds:.2f}s")
    assert response.status_code == 503 and seconds < LIMIT
    assert after.status_code == 201
    assert len(stored_ids(own_postgres.url, "default")) == 1
