"""Who is asking: bearer tokens, authors' edit tokens, and client fingerprints.

Nothing here stores a secret in a readable form: edit tokens are kept as SHA-256 hashes (they
are 192 random bits, so a plain hash is as good as a slow one), client addresses as HMACs keyed
with SECRET_KEY, admin tokens only as a short fingerprint in the moderation log.
"""

import hashlib
import hmac
import ipaddress
import secrets

from flask import Request, current_app, g, request

TOKEN_BYTES = 24  # 192 random bits, 32 URL-safe characters


def new_edit_token() -> tuple[str, bytes]:
    """A fresh edit token for the author, and the hash to store."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def bearer_token(request: Request) -> str | None:
    """The token of `Authorization: Bearer <token>`, or None when missing or malformed."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or not token.isascii() or len(token) > 512:
        return None
    return token


def same_secret(given: str | None, expected_hash: bytes | None) -> bool:
    """Whether a presented token matches a stored hash, in time independent of where they differ."""
    if given is None or expected_hash is None:
        hmac.compare_digest(b"\0" * 32, b"\1" * 32)  # the same work either way
        return False
    return hmac.compare_digest(token_hash(given), expected_hash)


def fingerprint(token: str) -> str:
    """Enough of a token's hash to tell tokens apart in a log, useless for guessing it."""
    return token_hash(token).hex()[:16]


def client_fingerprint(secret_key: str, address: str | None) -> str:
    """A stable pseudonym for a client address: the same sender, found without storing addresses."""
    digest = hmac.new(secret_key.encode(), client_identity(address).encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def client_identity(address: str | None) -> str:
    """Who a client address is, for limits, duplicates and pseudonyms: one spelling per address
    ("::ffff:192.0.2.1" is 192.0.2.1), and one per IPv6 /64, since a single subscriber holds a
    whole /64 and can move within it at will. Not an address: "" (see `is_address`)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return ""
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))  # the zone (%eth0) goes too
    return str(ip)


def is_address(value: str | None) -> bool:
    try:
        ipaddress.ip_address(value or "")
    except ValueError:
        return False
    return True


def current_client() -> str:
    """The pseudonym of the address the current request came from (an HMAC: computed once per
    request, however many steps of a write ask for it)."""
    if "client" not in g:
        g.client = client_fingerprint(current_app.config["SETTINGS"].secret_key, request.remote_addr)
    return g.client
