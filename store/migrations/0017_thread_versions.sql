-- Each thread's version, so that a reader who already has a page can be told "nothing changed"
-- (304) after one index lookup instead of a page query (api/comments.py).
--
-- The version lives in thread_counts, beside the count, and the same statement-level triggers
-- bump it in the same transaction as every change to the thread's comments: posts, edits,
-- moderation, erasure, votes, imports. A thread's version is the sum over its 8 slots; every
-- bump adds one to a slot, so the sum grows with every committed change and never repeats.
--
-- txid is the largest transaction id that ever bumped the slot. Listings show only settled
-- transactions (0002): while a change's transaction is not yet settled, the page may not show
-- it although the version counts it, so no ETag is given until every bump is settled.
ALTER TABLE thread_counts
    ADD COLUMN version bigint NOT NULL DEFAULT 0,
    ADD COLUMN txid    bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO thread_counts AS c (thread, slot, n, version, txid)
    SELECT thread, pg_backend_pid() % 8, count(*) FILTER (WHERE status = 'published'), 1,
        pg_current_xact_id()::text::bigint
    FROM new_rows GROUP BY thread
    ON CONFLICT (thread, slot) DO UPDATE
        SET n = c.n + EXCLUDED.n, version = c.version + 1, txid = greatest(c.txid, EXCLUDED.txid);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO thread_counts AS c (thread, slot, n, version, txid)
    SELECT thread, pg_backend_pid() % 8, -count(*) FILTER (WHERE status = 'published'), 1,
        pg_current_xact_id()::text::bigint
    FROM old_rows GROUP BY thread
    ON CONFLICT (thread, slot) DO UPDATE
        SET n = c.n + EXCLUDED.n, version = c.version + 1, txid = greatest(c.txid, EXCLUDED.txid);
    RETURN NULL;
END $$;

-- Every update bumps its thread's version, also one that leaves the count alone (an edit, a vote).
CREATE OR REPLACE FUNCTION count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO thread_counts AS c (thread, slot, n, version, txid)
    SELECT changed.thread, pg_backend_pid() % 8, sum(changed.delta), 1, pg_current_xact_id()::text::bigint FROM (
        SELECT after.thread, (after.status = 'published')::integer - (before.status = 'published')::integer AS delta
        FROM new_rows after JOIN old_rows before ON before.id = after.id
    ) AS changed
    GROUP BY changed.thread
    ON CONFLICT (thread, slot) DO UPDATE
        SET n = c.n + EXCLUDED.n, version = c.version + 1, txid = greatest(c.txid, EXCLUDED.txid);
    RETURN NULL;
END $$;
