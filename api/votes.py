"""POST /comments/{id}/vote: readers' +1 and -1, and the score that orders threads best first.

One vote per comment and client (the pseudonym of web/auth.py); a reader may change it or take
it back ({"value": 0}). An author cannot vote on their own comment, known by its edit token or by
the client that posted it. Votes are rate-limited by the posting limit's machinery, counted apart
(RATE_LIMIT_VOTES). The counts and the score are kept in the vote's own transaction under the
comment's row lock (migrations/0019), so twenty votes at once from one client count once, and
reading a comment counts nothing.
"""

import math

from flask import Blueprint, current_app, jsonify, request

from comment import validate_vote
from core.exceptions import CommentNotFound, Forbidden
from db import database
from web import auth, payload

blueprint = Blueprint("votes", __name__)

# z for a 95% confidence: the score is the lower bound of the share of upvotes that the votes so
# far support. Two of two ranks below 90 of 100; no votes (or only downvotes) scores 0. It does not
# favour the newest: it knows nothing of time.
Z = 1.959964
# The comment, locked (votes on one comment take turns), and this client's vote on it now.
TARGET = """SELECT c.client, c.edit_token_hash, c.upvotes, c.downvotes,
        coalesce((SELECT value FROM votes WHERE comment_id = c.id AND client = %(client)s), 0)
    FROM comments c WHERE c.id = %(id)s AND (c.status = 'published' OR NOT %(published_only)s) FOR UPDATE OF c"""
CAST = """INSERT INTO votes (comment_id, client, value) VALUES (%(id)s, %(client)s, %(value)s)
    ON CONFLICT (comment_id, client) DO UPDATE SET value = EXCLUDED.value, voted_at = now()"""
WITHDRAW = "DELETE FROM votes WHERE comment_id = %(id)s AND client = %(client)s"
COUNT = "UPDATE comments SET upvotes = %(up)s, downvotes = %(down)s, score = %(score)s WHERE id = %(id)s"
VOTED_ON = "SELECT comment_id FROM votes WHERE client = %s ORDER BY comment_id"


def wilson_lower_bound(up: int, down: int) -> float:
    n = up + down
    if n == 0:
        return 0.0
    share = up / n
    spread = Z * math.sqrt(share * (1 - share) / n + Z * Z / (4 * n * n))
    return max(0.0, (share + Z * Z / (2 * n) - spread) / (1 + Z * Z / n))


@blueprint.post("/comments/<id:comment_id>/vote")
def vote(comment_id: int):
    payload.reject_query(request)
    fields, _ = payload.read_body(request, current_app.config["MAX_CONTENT_LENGTH"])
    value = validate_vote(fields, form=request.mimetype == payload.FORM_TYPE)
    client = auth.current_client()
    with database().transaction() as cursor:
        # Counted inside the vote's transaction: a vote refused below does not use up the limit.
        database().charge(f"vote:{client}", current_app.config["SETTINGS"].rate_limit_votes, cursor=cursor)
        up, down = _cast(cursor, comment_id, client, value)
        database().note_write(client, cursor=cursor)
    return jsonify(id=comment_id, value=value, upvotes=up, downvotes=down)


def _cast(cursor, comment_id: int, client: str, value: int) -> tuple[int, int]:
    """Record the client's vote; the comment's counts after it."""
    params = {"id": comment_id, "client": client, "value": value, "published_only": True}
    cursor.execute(TARGET, params)
    found = cursor.fetchone()
    if found is None:
        raise CommentNotFound(comment_id)  # pending, rejected, deleted or never there: no votes
    author, token_hash, up, down, before = found
    if author == client or auth.same_secret(auth.bearer_token(request), token_hash and bytes(token_hash)):
        raise Forbidden("You cannot vote on your own comment.", code="own_comment")
    if value == before:
        return up, down  # the same vote again: nothing changes (nor the thread's version)
    return _change(cursor, params, up, down, before)


def _change(cursor, params: dict, up: int, down: int, before: int) -> tuple[int, int]:
    """The vote `before` becomes params["value"] (0: none), and the counts and score follow."""
    value = params["value"]
    cursor.execute(CAST if value else WITHDRAW, params)
    up += (value == 1) - (before == 1)
    down += (value == -1) - (before == -1)
    cursor.execute(COUNT, {"id": params["id"], "up": up, "down": down, "score": wilson_lower_bound(up, down)})
    return up, down


def forget_client(cursor, client: str) -> None:
    """Take back every vote one client cast (erasing everything from them, api/people.py), in the
    caller's transaction, each comment's counts kept true: also on comments that are hidden now
    and may be published again."""
    cursor.execute(VOTED_ON, (client,))
    for (comment_id,) in cursor.fetchall():
        params = {"id": comment_id, "client": client, "value": 0, "published_only": False}
        cursor.execute(TARGET, params)
        if found := cursor.fetchone():
            _, _, up, down, before = found
            _change(cursor, params, up, down, before)
