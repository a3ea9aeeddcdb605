"""Safe retries: `Idempotency-Key` on POST /comments and the author's PATCH and DELETE.

A client that timed out cannot know whether its comment was stored. Sent again with the same
key and the same request, it gets exactly the first answer (status, body with its edit_token,
Location) and nothing new is created. Keys are scoped to the client's address (its HMAC
pseudonym, auth.py) and kept for KEPT_FOR; expired ones are removed by the requests that use
keys, a batch now and then, so no cron job is needed.

A repeat is answered before any other work (`replay`): before the rate limit it already paid,
before its images are decoded or uploaded, so a retry succeeds even when the client has since
reached its limit or the object store is down.

The key is claimed, the change made and the answer saved in one transaction, so a crash can
never leave a change without its saved answer, or a saved answer without its change. A second
request with the same key while the first is running waits on the first's row lock (up to the
lock timeout), then replays its answer; if the first failed, nothing was saved and the second
runs itself. Only successful answers are saved: an error (429, 503...) may go away on retry.

Nothing readable is kept at rest: an answer's edit_token is stored sealed (encrypted with a
key derived from SECRET_KEY, `seal`), and erasing a comment rewrites the saved answers that
showed it (db.erase), so a retry never brings erased words back.
"""

import hashlib
import hmac
import random
import re
import secrets
from collections.abc import Callable

import orjson
import psycopg2.errors
from flask import Request, Response, current_app, g

from core.exceptions import Conflict, IdempotencyKeyReused, InvalidInput
from db import database
from web import auth

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
SAVED = "SELECT fingerprint, status, body, location, sealed_token FROM idempotency_keys WHERE client = %s AND key = %s"
# A saved answer that has not expired, looked up before any work (a running claim has no status yet).
SAVED_ANSWER = f"{SAVED} AND status IS NOT NULL AND created_at >= now() - interval '{KEPT_FOR}'"
SAVE = """UPDATE idempotency_keys SET status = %s, body = %s, location = %s, sealed_token = %s, comment_id = %s
    WHERE client = %s AND key = %s"""
SECRET_FIELD = "edit_token"  # shown once in a 201; kept only sealed
NONCE_BYTES = 16
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


def _asked(request: Request, fields: dict, uploads: list[bytes]) -> bytes:
    """The request's fingerprint, computed once per request (replay and run_once both need it,
    and hashing a post's images twice would double the dearest part)."""
    if "idempotency_fingerprint" not in g:
        g.idempotency_fingerprint = fingerprint(request, fields, uploads)
    return g.idempotency_fingerprint


def replay(request: Request, fields: dict, uploads: list[bytes] = ()) -> Response | None:
    """The saved answer to this client's key, if there is one (before doing any work); None
    without a key or a saved answer; IdempotencyKeyReused if the key was used for another request."""
    key = key_of(request)
    if key is None:
        return None
    saved = database().query(SAVED_ANSWER, (auth.current_client(), key), one=True)
    return _replay(saved, _asked(request, fields, uploads)) if saved else None


def run_once(request: Request, change: Callable, *, fields: dict, uploads: list[bytes] = ()) -> Response:
    """`change(cursor)` in one transaction; with an Idempotency-Key, once per key, together with
    the key's claim and saved answer (a repeat gets the saved answer)."""
    key = key_of(request)
    db = database()
    if key is None:
        with db.transaction() as cursor:
            return change(cursor)
    client = auth.current_client()
    asked = _asked(request, fields, uploads)
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
        body, sealed, comment_id = _to_keep(response)
        cursor.execute(SAVE, (response.status_code, body, response.headers.get("Location"), sealed, comment_id,
                              client, key))  # fmt: skip
        if random.randrange(PRUNE_EVERY) == 0:
            cursor.execute(PRUNE)  # on this connection: one request, one connection
    return response


def _to_keep(response: Response) -> tuple[bytes | None, bytes | None, int | None]:
    """What is saved of an answer: its body without the secret, the secret sealed, and the
    comment it shows (so that erasing the comment can rewrite it)."""
    if response.status_code == 204 or not response.is_json:
        return None, None, None
    shown = orjson.loads(response.get_data())
    if not isinstance(shown, dict):
        return response.get_data(), None, None
    token = shown.pop(SECRET_FIELD, None)
    sealed = seal(_sealing_key(), token.encode()) if token else None
    return orjson.dumps(shown), sealed, shown.get("id")


def _replay(saved: tuple, request_fingerprint: bytes) -> Response:
    stored_fingerprint, status, body, location, sealed = saved
    if bytes(stored_fingerprint) != request_fingerprint:
        raise IdempotencyKeyReused()
    if sealed is not None:  # put the secret back where the first answer had it: last
        shown = orjson.loads(bytes(body))
        shown[SECRET_FIELD] = unseal(_sealing_key(), bytes(sealed)).decode()
        body = orjson.dumps(shown)
    response = Response(bytes(body) if body is not None else b"", status=status)
    if body is not None:
        response.mimetype = "application/json"
    if location:
        response.headers["Location"] = location
    response.headers["Idempotent-Replayed"] = "true"
    return response


# Sealing: a stream cipher made of HMAC-SHA256 as a pseudo-random function keyed by a key
# derived from SECRET_KEY, over a random nonce stored with the ciphertext. Enough for a secret of
# at most 32 bytes (an edit token is 32 characters), and nothing outside the standard library.
def _sealing_key() -> bytes:
    secret_key = current_app.config["SETTINGS"].secret_key
    return hmac.new(secret_key.encode(), b"idempotency: sealed answers", hashlib.sha256).digest()


def seal(key: bytes, secret: bytes) -> bytes:
    if len(secret) > hashlib.sha256().digest_size:
        raise ValueError("seal() takes secrets of at most 32 bytes")
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + _xor(secret, hmac.new(key, nonce, hashlib.sha256).digest())


def unseal(key: bytes, sealed: bytes) -> bytes:
    nonce, hidden = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
    return _xor(hidden, hmac.new(key, nonce, hashlib.sha256).digest())


def _xor(data: bytes, stream: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, stream, strict=False))
