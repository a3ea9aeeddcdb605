-- Read-your-writes with a read replica (replica.py): who wrote lately, on the primary only.
-- UNLOGGED: it is never replicated or replayed, and after a crash an empty table only means a
-- few seconds in which a writer might read from a replica that is behind.
CREATE UNLOGGED TABLE recent_writes (
    client text PRIMARY KEY,
    at timestamptz NOT NULL
) WITH (fillfactor = 50);
