"""Reads from a PostgreSQL streaming replica (DATABASE_REPLICA_URL); writes stay on the primary.

Public reads (listings, one comment, counts) go to the replica while it is usable: it answers,
and it is at most REPLICA_MAX_LAG_SECONDS behind (measured by WAL position: a replica that has
replayed everything the primary has written is 0 s behind however long ago that was). Its state
is checked at most once a second per process, and a replica that fails a read is given up for
that second, the read retried on the primary.

Read-your-writes: a client that wrote in the last REPLICA_MAX_LAG_SECONDS reads from the
primary. The writers are kept on the primary (recent_writes, migrations/0007), noted before the
write's answer is sent, so a client's next read, wherever it lands, sees its own write. That
costs the primary one primary-key probe per read instead of the whole query.
"""

import threading
import time
from collections.abc import Callable

from core.exceptions import Unavailable

# Who is reading: asked only when a replica could serve the read (computing it costs an HMAC).
Reader = Callable[[], str] | None
CHECK_EVERY = 1.0  # seconds between looks at the replica's state, per process

NOTE_WRITE = """INSERT INTO recent_writes (client, at) VALUES (%s, now())
    ON CONFLICT (client) DO UPDATE SET at = excluded.at"""
RECENT_WRITER = """SELECT EXISTS (SELECT 1 FROM recent_writes WHERE client = %s
    AND at > now() - make_interval(secs => %s))"""
PRIMARY_POSITION = "SELECT pg_current_wal_lsn()::text"
# How far the replica has replayed, and when the last transaction it replayed committed.
REPLICA_POSITION = """SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,
    extract(epoch FROM now() - pg_last_xact_replay_timestamp())"""
REPLAYED = "SELECT pg_last_wal_replay_lsn()::text"
# A replica a moment behind a primary that just wrote (even only a checkpoint or a snapshot
# record, on an idle primary) is not lagging: look again this many times, this far apart,
# before measuring its lag by the age of its last replayed transaction.
SECOND_LOOKS, SECOND_LOOK_AFTER = 3, 0.02


class Replica:
    def __init__(self, run_on_primary, run_on_replica, max_lag: float):
        self._primary = run_on_primary  # (sql, params) -> rows
        self._replica = run_on_replica
        self.max_lag = max_lag
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._state = "unchecked"  # "in use", "lagging", "down", "not a standby"
        self._lag: float | None = None

    def serves(self, reader: Reader) -> bool:
        """Whether this read may go to the replica."""
        if not self._usable():
            return False
        if reader is None:
            return True
        ((recent,),) = self._primary(RECENT_WRITER, (reader(), self.max_lag))
        return not recent

    def failed(self) -> None:
        """A read on the replica failed: use the primary until the next check."""
        with self._lock:
            self._state, self._checked_at = "down", time.monotonic()

    def report(self) -> dict:
        """For /readyz: the state as last seen, and the lag in seconds when known."""
        self._usable()
        return {"state": self._state, "lag_seconds": None if self._lag is None else round(self._lag, 3)}

    def _usable(self) -> bool:
        now = time.monotonic()
        if now - self._checked_at >= CHECK_EVERY:
            with self._lock:
                if now - self._checked_at >= CHECK_EVERY:
                    self._state, self._lag = self._look()
                    self._checked_at = time.monotonic()
        return self._state == "in use"

    def _look(self) -> tuple[str, float | None]:
        try:
            ((primary_lsn,),) = self._primary(PRIMARY_POSITION, ())
            ((standby, replayed_lsn, since_last_replay),) = self._replica(REPLICA_POSITION, ())
            if not standby:
                return "not a standby", None  # promoted, or misconfigured: it would not follow writes
            for _ in range(SECOND_LOOKS):
                if _position(replayed_lsn) >= _position(primary_lsn):
                    return "in use", 0.0
                time.sleep(SECOND_LOOK_AFTER)
                ((replayed_lsn,),) = self._replica(REPLAYED, ())
        except Unavailable:
            return "down", None
        lag = float(since_last_replay or 0.0)
        return ("in use" if lag <= self.max_lag else "lagging"), lag


def _position(lsn: str | None) -> int:
    """A WAL position ('16/B374D848') as a number; None (nothing replayed yet) as 0."""
    if not lsn:
        return 0
    high, low = lsn.split("/")
    return (int(high, 16) << 32) + int(low, 16)
