-- A version per thread, for ETags on listings (db.py, api/comments.py): every insert, update or
-- delete of a thread's comments adds one to `changes`, in the same transaction, by the triggers
-- that already keep the counts (0003). `last_txid` is the newest of those transactions: a
-- listing shows only settled transactions (0002), so a version is only announced once every
-- change it counts is settled, and a page can never carry the ETag of changes it does not show.
ALTER TABLE thread_counts
    ADD COLUMN changes bigint NOT NULL DEFAULT 0,
    ADD COLUMN last_txid bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO thread_counts AS c (thread, slot, n, changes, last_txid)
    SELECT thread, pg_backend_pid() % 8, count(*) FILTER (WHERE status = 'published'), 1,
        pg_current_xact_id()::text::bigint
    FROM new_rows GROUP BY thread
    ON CONFLICT (thread, slot) DO UPDATE SET n = c.n + EXCLUDED.n, changes = c.changes + 1,
        last_txid = greatest(c.last_txid, EXCLUDED.last_txid);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO thread_counts AS c (thread, slot, n, changes, last_txid)
    SELECT thread, pg_backend_pid() % 8, -count(*) FILTER (WHERE status = 'published'), 1,
        pg_current_xact_id()::text::bigint
    FROM old_rows GROUP BY thread
    ON CONFLICT (thread, slot) DO UPDATE SET n = c.n + EXCLUDED.n, changes = c.changes + 1,
        last_txid = greatest(c.last_txid, EXCLUDED.last_txid);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO thread_counts AS c (thread, slot, n, changes, last_txid)
    SELECT changed.thread, pg_backend_pid() % 8, sum(changed.delta), 1, pg_current_xact_id()::text::bigint FROM (
        SELECT after.thread, (after.status = 'published')::integer - (before.status = 'published')::integer AS delta
        FROM new_rows after JOIN old_rows before ON before.id = after.id
    ) AS changed
    GROUP BY changed.thread
    ON CONFLICT (thread, slot) DO UPDATE SET n = c.n + EXCLUDED.n, changes = c.changes + 1,
        last_txid = greatest(c.last_txid, EXCLUDED.last_txid);
    RETURN NULL;
END $$;
