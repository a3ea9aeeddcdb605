"""Bodies as a real gunicorn hands them over: chunked, over the limit, or framed wrongly.

Through the test client every body has a Content-Length, so these go over a socket."""

import json
from urllib.parse import urlencode

import pytest

from tests.rawhttp import chunked_post, exchange, post_with_framing
from tests.service import Service
from tests.test_create import stored_rows

FORM = "application/x-www-form-urlencoded"
LIMIT = 131072


@pytest.fixture(scope="module")
def service(database_url):
    with Service(database_url) as service:
        yield service


def test_a_chunked_body_within_the_limit_is_stored(service, clean_database):
    body = urlencode({"name": "Ann", "comment": "chunked " * 1000}).encode()
    status, answer = exchange(service.port, chunked_post("/comments", body, FORM))
    assert status == 201, answer
    assert json.loads(answer)["comment"] == ("chunked " * 1000).strip()


def test_a_chunked_body_over_the_limit_is_413_not_truncated(service, clean_database):
    """The fields that fit before the limit must not be stored as if they were the whole form."""
    body = b"name=Ann&comment=" + b"x" * 100 + b"&thread=" + b"t" * (LIMIT - 100)
    status, answer = exchange(service.port, chunked_post("/comments", body, FORM, chunk=4096))
    assert status == 413, answer
    assert json.loads(answer)["code"] == "body_too_large"
    assert stored_rows(clean_database) == []


VALID = b"name=a&comment=b"
MALFORMED_FRAMING = {
    "size line zz": b"zz\r\n" + VALID + b"\r\n0\r\n\r\n",
    "size -1": b"-1\r\n" + VALID + b"\r\n0\r\n\r\n",
    "size 0x11": b"0x11\r\n" + VALID + b"\r\n0\r\n\r\n",
    "LF-only framing": b"%x\n%s\n0\n\n" % (len(VALID), VALID),
    "size smaller than the data": b"4\r\n" + VALID + b"\r\n0\r\n\r\n",
    "empty size line": b"\r\n" + VALID + b"\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("framing", MALFORMED_FRAMING, ids=list(MALFORMED_FRAMING))
def test_malformed_chunk_framing_is_400_and_no_error_is_logged(service, clean_database, framing):
    status, answer = exchange(service.port, post_with_framing("/comments", MALFORMED_FRAMING[framing], FORM))
    assert status == 400, answer
    if answer.startswith(b"{"):  # the app answered (gunicorn answers some framing errors itself)
        assert json.loads(answer)["code"] == "malformed_body"
    assert stored_rows(clean_database) == []
    service.assert_clean_logs()
    assert not [e for e in service.log_entries() if e["level"] in ("error", "critical")]
