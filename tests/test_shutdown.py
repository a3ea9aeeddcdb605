"""Signals to a real gunicorn started as `pipenv run serve` starts it: SIGTERM drains,
SIGKILL loses nothing acknowledged, crashed workers are replaced."""

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import psycopg2
import pytest
import requests

from tests.conftest import query, wait_until
from tests.service import Posters, Service
from tests.test_outage import stored_ids

GRACEFUL_TIMEOUT = 5


def worker_pids(service: Service) -> set[int]:
    return {child.pid for child in psutil.Process(service.process.pid).children()}


@pytest.fixture
def service(clean_database):
    service = Service(clean_database, GRACEFUL_TIMEOUT=str(GRACEFUL_TIMEOUT), WEB_CONCURRENCY="4")
    service.start()
    yield service
    service.stop()


def test_sigterm_while_posting_drains_and_exits_zero(service, clean_database):
    with Posters(service, threads=8, seconds=20) as load:
        wait_until(lambda: load.count(201) >= 50)  # well under way
        acknowledged_before = load.count(201)
        started = time.monotonic()
        service.signal(signal.SIGTERM)
        code = service.wait(GRACEFUL_TIMEOUT + 5)
        took = time.monotonic() - started
        load.stop()
    print(f"\nSIGTERM: exit {code} after {took:.2f}s; {load.count(201)} acknowledged, all stored")
    assert code == 0
    assert took < GRACEFUL_TIMEOUT
    assert acknowledged_before > 0
    assert set(load.statuses) == {201}, "a request that reached a worker was not answered normally"
    assert set(load.acknowledged) <= stored_ids(clean_database, "load")
    assert len(load.acknowledged) == len(set(load.acknowledged))


def test_sigkill_after_a_burst_keeps_everything_acknowledged(service, clean_database):
    session = requests.Session()
    acknowledged = []
    for n in range(200):
        response = session.post(
            service.url("/comments"), json={"name": "k", "comment": str(n), "thread": "burst"}, timeout=10
        )
        assert response.status_code == 201
        acknowledged.append(response.json()["id"])
    os.killpg(service.process.pid, signal.SIGKILL)  # master and workers, no chance to clean up
    service.wait(5)
    assert set(acknowledged) == stored_ids(clean_database, "burst")


def waiting_on_a_lock(database_url: str) -> bool:
    waiting = (
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'comments-api' AND wait_event_type = 'Lock'"
    )
    return query(database_url, waiting) != [(0,)]


def wait_for_workers(service: Service, count: int, timeout: float = 10) -> set[int]:
    deadline = time.monotonic() + timeout
    while len(pids := worker_pids(service)) != count and time.monotonic() < deadline:
        time.sleep(0.05)
    return pids


def test_a_crashed_worker_is_replaced(service):
    before = wait_for_workers(service, 4)
    assert len(before) == 4
    victim = next(iter(before))
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and ((after := worker_pids(service)) == before or len(after) < 4):
        time.sleep(0.05)
    assert victim not in after and len(after) == 4
    answers = [requests.get(service.url("/comments"), timeout=10).status_code for _ in range(20)]
    assert answers == [200] * 20


def test_sigterm_lets_a_request_stuck_in_the_database_finish(service, clean_database):
    """A POST waiting on a table lock when SIGTERM arrives still completes, is stored, and
    gunicorn exits 0 after it."""
    blocker = psycopg2.connect(clean_database)
    with blocker.cursor() as cursor:
        cursor.execute("LOCK TABLE comments IN ACCESS EXCLUSIVE MODE")
        with ThreadPoolExecutor(max_workers=1) as pool:
            in_flight = pool.submit(
                requests.post, service.url("/comments"), json={"name": "a", "comment": "in flight"}, timeout=10
            )
            wait_until(lambda: waiting_on_a_lock(clean_database))  # the POST waits inside PostgreSQL
            service.signal(signal.SIGTERM)
            wait_until(lambda: "Handling signal: term" in service.logs())
            assert not in_flight.done()
            blocker.rollback()  # release the lock: the INSERT proceeds
            response = in_flight.result()
    blocker.close()
    assert response.status_code == 201
    assert service.wait(GRACEFUL_TIMEOUT + 5) == 0
    assert stored_ids(clean_database, "default") == {response.json()["id"]}
