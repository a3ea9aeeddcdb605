"""How many writes one client may make: RATE_LIMIT_POSTS, counted in PostgreSQL.

New comments, authors' edits and posts with images share one budget per client: an edit or an
image post costs as much work as a post, so it costs as much of the limit (CHARGE).

The limit is a generic cell rate algorithm (GCRA) over one row per client in `post_limits`:
`tat` is the theoretical arrival time of the client's next post. A post is allowed when
tat + interval - period <= now (so up to N posts at once, then one per period/N), and the
upsert that checks it also advances it, atomically: concurrent posts from one client queue on
that row, so the limit is exact across every worker, process and container. The check is a CTE
of the insert statement (db.py), so it costs no extra round trip and no extra commit.

Rows whose time has passed mean the same as no row; `prune` deletes a few of them now and then,
from ordinary requests (on the request's own connection), so no cron job is needed. The table
is UNLOGGED: limits are not worth a WAL record per post, and losing them in a crash only
starts every client afresh.
"""

import random

# $client, $interval (seconds per post), $period (seconds): the CTE `allowed` has a row if so.
LIMITER_CTE = """allowed AS (
    INSERT INTO post_limits AS l (client, tat) VALUES ($client, now() + make_interval(secs => $interval))
    ON CONFLICT (client) DO UPDATE SET tat = greatest(l.tat, now()) + make_interval(secs => $interval)
    WHERE greatest(l.tat, now()) + make_interval(secs => $interval) - make_interval(secs => $period) <= now()
    RETURNING 1
)"""
UNLIMITED_CTE = "allowed AS (SELECT 1)"
# Whole seconds until a post by $client would be allowed (read after a refusal).
RETRY_AFTER = """SELECT greatest(1, ceil(extract(epoch FROM
    greatest(tat, now()) + make_interval(secs => %s) - make_interval(secs => %s) - now())))::int
    FROM post_limits WHERE client = %s"""
# Whether $client's next write would be refused now, without counting one (a check before work
# that is charged only when it fails: the admin app's sign-in). Params: interval, period, client.
BLOCKED = """SELECT greatest(tat, now()) + make_interval(secs => %s) - make_interval(secs => %s) > now()
    FROM post_limits WHERE client = %s"""
# Count one write now (the limiter alone), for writes other than the insert: whether it was allowed.
CHARGE = f"""WITH {
    LIMITER_CTE.replace("$client", "%(client)s").replace("$interval", "%(interval)s").replace("$period", "%(period)s")
} SELECT EXISTS (SELECT FROM allowed)"""
# Rows expired for a while: a client that is still posting keeps its row (an update in place,
# not a delete and a fresh insert), one that has gone quiet loses it.
PRUNE = """DELETE FROM post_limits WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM post_limits WHERE tat < now() - interval '10 minutes' LIMIT 500))"""
PRUNE_ONE_IN = 200  # requests


def interval_and_period(limit: tuple[int, int]) -> tuple[float, int]:
    posts, seconds = limit
    return seconds / posts, seconds


def should_prune() -> bool:
    return random.randrange(PRUNE_ONE_IN) == 0
