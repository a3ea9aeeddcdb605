"""People's own data (admin token): `GET /admin/people?email=…` answers a data-access request
with every comment that address wrote, as the export's JSON lines; `DELETE` erases them all
(tombstones where they have replies). The same by client pseudonym (`?client=…`), to remove a
spammer's comments in one action. Each erasure is in the audit log, like any admin action.
"""

import re

from flask import Blueprint, Response, jsonify, request, stream_with_context

from api import moderation, moderators, votes
from comment import EMAIL, MAX_EMAIL
from core.exceptions import InvalidInput
from db import database, erase
from media import storage
from transfer import export

blueprint = Blueprint("people", __name__, url_prefix="/admin/people")
blueprint.before_request(moderators.require_moderator)

CLIENT = re.compile(r"[0-9a-f]{32}")
PAGE = 1000  # comments per query while the answer streams
# E-mail addresses are matched without regard to case: people type theirs both ways.
WHO = {"email": "lower(email) = lower(%s)", "client": "client = %s"}
LINES = "SELECT {columns} FROM comments WHERE {who} AND id > %s ORDER BY id LIMIT %s"
IDS = "SELECT id FROM comments WHERE {who} AND status <> 'deleted' ORDER BY id DESC"


@blueprint.get("")
def their_comments():
    field, value = _person()
    sql = LINES.format(columns=export.COLUMNS, who=WHO[field])

    def lines():
        yield export.header_line(private=True)
        after = 0
        while rows := database().query(sql, (value, after, PAGE)):
            yield b"".join(export.encode(export.line_of(row, private=True)) for row in rows)
            after = rows[-1][0]

    return Response(stream_with_context(lines()), mimetype="application/x-ndjson")


@blueprint.delete("")
def erase_their_comments():
    field, value = _person()
    return jsonify(erased=erase_person(field, value))


def erase_person(field: str, value: str) -> int:
    """Erase every comment of one e-mail address or client, in one transaction, each recorded in
    the audit log; their images released after commit; a client's votes taken back too (an
    address casts none). How many comments were erased."""
    media_ids, count = [], 0
    with database().transaction() as cursor:
        if field == "client":
            votes.forget_client(cursor, value)
        cursor.execute(IDS.format(who=WHO[field]), (value,))
        for (comment_id,) in cursor.fetchall():
            erased = erase(cursor, comment_id)
            if erased is not None:
                moderation.record(cursor, f"erase_by_{field}", comment_id, erased.status, None)
                media_ids += erased.media_ids
                count += 1
    storage.release(media_ids)
    return count


def _person() -> tuple[str, str]:
    """Exactly one of ?email= (an address) or ?client= (a pseudonym, as the admin API shows them)."""
    args = request.args
    given = [key for key in args if key in WHO]
    unknown = [key for key in args if key not in WHO]
    fields = {key: "is not a known parameter" for key in unknown}
    if len(given) != 1 or len(args.getlist(given[0])) != 1:
        fields["email"] = "give exactly one email or client"
    else:
        field, value = given[0], args[given[0]]
        if field == "email" and not (len(value) <= MAX_EMAIL and EMAIL.fullmatch(value)):
            fields["email"] = "must be an e-mail address"
        if field == "client" and not CLIENT.fullmatch(value):
            fields["client"] = "must be a client pseudonym (32 hexadecimal digits)"
    if fields:
        raise InvalidInput("Some query parameters are invalid.", code="invalid_query", fields=fields)
    return field, value
