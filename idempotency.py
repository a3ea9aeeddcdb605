"""Safe retries: `Idempotency-Key` on POST /comments and the author's PATCH and DELETE.

A client that timed out cannot know whether its comment was stored. Sent again with the same
key and the same request, it gets exactly the first answer (status, body with its edit_token,
Location) and nothing new is created. Keys are scoped to the client's address (its HMAC
pseudonym, auth.py) and kept for KEPT_FOR; expired ones are removed by the requests that use
keys, a batch now and then, so no cron job is needed.

The key is claimed, the change made and the answer saved in one transaction, so a crash can
never leave a change without its saved answer, or a saved answer without its change. A second
request with the same key while the first is running waits on the first's row lock (up to the
lock timeout), then replays its answer; if the first failed, nothing was saved and the second
runs itself. Only successful answers are saved: an error (429, 503...) may go away on retry.
"""

import hashlib
import random
import re
from collections.abc import Callable

import orjson
import psycopg2.errors
from flask import Request, Response

import auth
from db import database
from exceptions import Conflict, IdempotencyKeyReused, InvalidInput

HEADER = "Idempotency-Key"
KEY = re.compile(r"[\x20-\x7e]{1,255}")  # printable ASCII
KEPT_FOR = "24 hours"
PRUNE_EVERY = 100  # requests with a key, on average, per pruning batch

# Claim the key: a new row, or one whose previous use has expired. Waits on a running claim.
CLAIM = f"""INSERT INTO idempotency_keys (client, key, fingerprint) VALUES (%s, %s, %s)
    ON CONFLICT (client, key) DO UPDATE SET fingerprint = excluded.fingerprint, status = NULL, body = NULL,
        location = NULL, created_at = now()
    WHERE idempotency_keys.created_at < now() - interval '{KEPT_FOR}'
    RETURNING true"""
SAVED = "SELECT fingerprint, status, body, location FROM idempotency_keys WHERE client = %s AND key = %s"
SAVE = "UPDATE idempotency_keys SET status = %s, body = %s, location = %s WHERE client = %s AND key = %s"
PRUNE = f"""DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
    SELECT ctid FROM idempotency_keys WHERE created_at < now() - interval '{KEPT_FOR}' LIMIT 1000))"""


def key_of(request: Request) -> str | None:
    """The request's Idempotency-Key, None without one; a malformed one is refused."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not KEY.fullmatch(key):
        raise InvalidInput(
            f"{HEADER} must be 1 to 255 printable ASCII characters.",
            code="invalid_idempotency_key",
            fields={HEADER: "must be 1 to 255 printable ASCII characters"},
        )
    return key


def fingerprint(request: Request, fields: dict, uploads: list[bytes] = ()) -> bytes:
    """What makes two requests the same: method, path, the parsed fields and the images."""
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    digest.update(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS))
    for upload in uploads:
        digest.update(hashlib.sha256(upload).digest())
    return digest.digest()


def run_once(request: Request, change: Callable, *, fields: dict, uploads: list[bytes] = ()) -> Response:
    """`change(cursor)` in one transaction; with an Idempotency-Key, once per key, together with
    the key's claim and saved answer (a repeat gets the saved answer)."""
    key = key_of(request)
    db = database()
    if key is None:
        with db.transaction() as cursor:
            return change(cursor)
    client = auth.current_client()
    asked = fingerprint(request, fields, uploads)
    with db.transaction() as cursor:
        try:
            cursor.execute(CLAIM, (client, key, asked))
        except psycopg2.errors.LockNotAvailable:
            raise Conflict(
                "A request with this Idempotency-Key is still running.", code="idempotency_key_in_use"
            ) from None
        if cursor.fetchone() is None:
            cursor.execute(SAVED, (client, key))
            return _replay(cursor.fetchone(), asked)
        response = change(cursor)
        body = response.get_data() if response.status_code != 204 else None
        cursor.execute(SAVE, (response.status_code, body, response.headers.get("Location"), client, key))
    if random.randrange(PRUNE_EVERY) == 0:
        db.query(PRUNE, rows=False)
    return response


def _replay(saved: tuple, request_fingerprint: bytes) -> Response:
    stored_fingerprint, status, body, location = saved
    if bytes(stored_fingerprint) != request_fingerprint:
        raise IdempotencyKeyReused()
    response = Response(bytes(body) if body is not None else b"", status=status)
    if body is not None:
        response.mimetype = "application/json"
    if location:
        response.headers["Location"] = location
    response.headers["Idempotent-Replayed"] = "true"
    return response
