"""Slow clients against the bare server (no proxy): the damage is bounded, not prevented.

In public a buffering proxy stands in front (nginx in docker-compose.yml); test_containers.py
checks that the stack then shrugs them off. Here: gunicorn alone frees every thread a trickling
client holds within gthread_deadline.READ_DEADLINE, so the service recovers by itself."""

import time

import pytest
import requests

from tests.rawhttp import exchange, post_with_framing
from tests.service import Service
from tests.slowloris import Trickler
from web.gthread_deadline import READ_DEADLINE

SLACK = 3.0  # seconds beyond the deadline: the sweep interval, scheduling on a busy machine


@pytest.fixture(scope="module")
def service(database_url):
    with Service(database_url) as service:  # 2 workers x 2 threads, as `pipenv run serve`
        yield service


def test_trickling_clients_are_cut_off_at_the_read_deadline(service):
    with Trickler("127.0.0.1", service.port, sockets=8, seconds=READ_DEADLINE * 3) as slow:
        started = time.monotonic()
        # Every thread is held now; the service must come back without anyone's help.
        answer = requests.get(service.url("/healthz"), timeout=READ_DEADLINE + SLACK)
        waited = time.monotonic() - started
        while len(slow.closed_after) < 8 and time.monotonic() - started < READ_DEADLINE + SLACK:
            time.sleep(0.1)
    assert answer.status_code == 200
    assert waited < READ_DEADLINE + SLACK
    assert len(slow.closed_after) == 8, "some trickling sockets were still held past the deadline"
    assert max(slow.closed_after) < READ_DEADLINE + SLACK
    service.assert_clean_logs()


def test_a_body_that_never_completes_is_answered_by_the_deadline(service):
    """LF-only chunk framing from a client that then waits: the parser can only wait for the
    CRLF that never comes, until the deadline ends the read."""
    request = post_with_framing("/comments", b"10\nname=a&comment=b\n0\n\n", "application/x-www-form-urlencoded")
    started = time.monotonic()
    status, body = exchange(service.port, request, timeout=READ_DEADLINE + SLACK, half_close=False)
    assert status == 400 and b"malformed_body" in body
    assert time.monotonic() - started < READ_DEADLINE + SLACK
