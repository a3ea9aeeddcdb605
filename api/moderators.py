"""Moderator accounts: who may use the admin API (and, later, the admin app).

`pipenv run moderators add NAME` prints a new secret once; only its SHA-256 is stored.
`pipenv run moderators list` and `pipenv run moderators remove NAME` do what they say. The
secret is a bearer token for the admin API. ADMIN_TOKEN keeps working as the account `admin`.
Every admin action records the moderator's name in the audit log (moderation_log).
"""

import argparse
import hmac
import re
import secrets
import sys

import psycopg2
from flask import current_app, g, request

import config
from core.exceptions import Unauthorized
from db import database
from web import auth

ADMIN = "admin"  # the account ADMIN_TOKEN stands for
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,39}")
SECRET_PREFIX = "mod_"  # recognisable in a leaked file or a secret scanner
FIND = "SELECT name FROM moderators WHERE secret_hash = %s"
ADD = "INSERT INTO moderators (name, secret_hash) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING RETURNING name"
LIST = "SELECT name, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') FROM moderators ORDER BY name"
REMOVE = "DELETE FROM moderators WHERE name = %s RETURNING name"


def require_moderator() -> None:
    """Before every admin API route: the moderator the bearer token belongs to (in g.moderator),
    or 401, the same for every wrong token, whether or not any account exists."""
    given = auth.bearer_token(request) or ""
    moderator = moderator_of(given)
    if moderator is None:
        raise Unauthorized()
    act_as(moderator, given)


def moderator_of(secret: str) -> str | None:
    """The account a secret opens: `admin` for ADMIN_TOKEN, a moderator's name, or None."""
    expected = current_app.config["SETTINGS"].admin_token or ""
    # Compared in constant time; the same work is done when no ADMIN_TOKEN is configured.
    if hmac.compare_digest(secret.encode(), (expected or "\0").encode()) and expected:
        return ADMIN
    if not secret.startswith(SECRET_PREFIX):
        return None
    found = database().query(FIND, (auth.token_hash(secret),), one=True)
    return found[0] if found else None


def act_as(moderator: str, credential: str) -> None:
    """Who this request acts for, and a fingerprint of the credential used (the audit log's)."""
    g.moderator, g.credential_fingerprint = moderator, auth.fingerprint(credential)


def current_moderator() -> str:
    return g.moderator


def credential_fingerprint() -> str:
    return g.credential_fingerprint


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="moderators", description="Moderator accounts of the admin API.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("add", help="make an account and print its secret (shown once)").add_argument("name")
    commands.add_parser("list", help="every account")
    commands.add_parser("remove", help="remove an account: its secret stops working at once").add_argument("name")
    arguments = parser.parse_args(argv)
    if getattr(arguments, "name", None) is not None and not _valid_name(arguments.name):
        print(f"moderators: {arguments.name!r} is not a name: 1-40 of a-z, 0-9, '.', '_', '-'", file=sys.stderr)
        return 2
    settings = config.load_or_exit()
    conn = psycopg2.connect(settings.require_database_url(), connect_timeout=settings.db_connect_timeout)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            return COMMANDS[arguments.command](cursor, arguments)
    finally:
        conn.close()


def _add(cursor, arguments) -> int:
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    cursor.execute(ADD, (arguments.name, auth.token_hash(secret)))
    if cursor.fetchone() is None:
        print(f"moderators: {arguments.name} exists already (remove it first to give it a new secret)", file=sys.stderr)
        return 1
    print(f"{arguments.name}: {secret}")
    print("Keep this secret now: it is not stored and cannot be shown again.", file=sys.stderr)
    return 0


def _list(cursor, _) -> int:
    cursor.execute(LIST)
    for name, created in cursor.fetchall():
        print(f"{name}\tadded {created} UTC")
    return 0


def _remove(cursor, arguments) -> int:
    cursor.execute(REMOVE, (arguments.name,))
    if cursor.fetchone() is None:
        print(f"moderators: there is no {arguments.name}", file=sys.stderr)
        return 1
    print(f"{arguments.name} removed")
    return 0


def _valid_name(name: str) -> bool:
    return bool(NAME.fullmatch(name)) and name != ADMIN


COMMANDS = {"add": _add, "list": _list, "remove": _remove}


if __name__ == "__main__":
    raise SystemExit(main())
