"""GET /counts: published comments per thread, for "12 comments" next to a post's title.

The counts are kept by a trigger in the same transaction as every change (see
migrations/0003), so asking costs the same for a thread of ten comments or of a million.
"""

from flask import Blueprint, jsonify, request

from db import database
from web import auth, payload

blueprint = Blueprint("counts", __name__)

COUNTS = "SELECT thread, sum(n)::bigint FROM thread_counts WHERE thread = ANY(%s) GROUP BY thread"


@blueprint.get("/counts")
def counts():
    threads = payload.read_count_query(request)
    found = dict(database().read_query(COUNTS, (threads,), reader=auth.current_client))
    return jsonify(counts={thread: found.get(thread, 0) for thread in threads})
