-- Ownership, moderation and abuse protection (see ownership.py, moderation.py, rate_limits.py,
-- spam.py, counts.py).

-- Every comment has a status; a deleted one keeps its place (a tombstone, when it has replies)
-- but not its words: name and comment are overwritten with NULL, never just flagged.
ALTER TABLE comments
    ADD COLUMN status text NOT NULL DEFAULT 'published'
        CONSTRAINT comments_status_known CHECK (status IN ('published', 'pending', 'rejected', 'deleted')),
    ADD COLUMN edited_at timestamptz,
    -- SHA-256 of the author's edit token: a dump of the table reveals no token.
    ADD COLUMN edit_token_hash bytea,
    -- HMAC of the client address keyed with SECRET_KEY: one sender's comments can be found
    -- without any address being stored.
    ADD COLUMN client text,
    ALTER COLUMN name DROP NOT NULL,
    ALTER COLUMN comment DROP NOT NULL,
    ADD CONSTRAINT comments_erased_when_deleted
        CHECK ((status = 'deleted') = (name IS NULL AND comment IS NULL));

-- A sender's recent comments (duplicate detection, admin search by client).
CREATE INDEX comments_client_created_idx ON comments (client, created_at) WHERE client IS NOT NULL;
-- The moderation queue and the admin listing by status.
CREATE INDEX comments_status_txid_id_idx ON comments (status, txid, id);

-- New comments per client, as a generic cell rate algorithm: one row per client holding the
-- theoretical arrival time of its next post. An upsert on it is atomic, so the limit is exact
-- across every process; a row whose time has passed means the same as no row, so old rows can
-- be deleted at any moment (rate_limits.py does, now and then, in small batches).
-- UNLOGGED: rate-limit state is worth no WAL (and no replication); after a crash or a failover
-- the limits simply start afresh. Room left in each page keeps the frequent updates HOT.
CREATE UNLOGGED TABLE post_limits (
    client text PRIMARY KEY,
    tat    timestamptz NOT NULL
) WITH (fillfactor = 50);

-- Every admin action: who (a fingerprint of the token used), what, on which comment, when.
CREATE TABLE moderation_log (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at                timestamptz NOT NULL DEFAULT now(),
    action            text NOT NULL,
    comment_id        bigint NOT NULL,
    old_status        text NOT NULL,
    new_status        text,
    token_fingerprint text NOT NULL
);

-- Published comments per thread, kept in the same transaction as every change by the triggers
-- below, so GET /counts costs the same for a thread of ten comments or of a million. Each
-- thread's count is spread over 8 slots (chosen by backend) so that concurrent posts to one busy
-- thread do not queue on a single row lock; a count is the sum of at most 8 rows. The triggers
-- run once per statement over its transition tables, so a bulk import of a million rows makes
-- one update per thread, not a million updates of one row.
CREATE TABLE thread_counts (
    thread text NOT NULL,
    slot   smallint NOT NULL,
    n      bigint NOT NULL,
    PRIMARY KEY (thread, slot)
);

CREATE FUNCTION count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO thread_counts AS c (thread, slot, n)
    SELECT thread, pg_backend_pid() % 8, count(*) FROM new_rows WHERE status = 'published' GROUP BY thread
    ON CONFLICT (thread, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO thread_counts AS c (thread, slot, n)
    SELECT thread, pg_backend_pid() % 8, -count(*) FROM old_rows WHERE status = 'published' GROUP BY thread
    ON CONFLICT (thread, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO thread_counts AS c (thread, slot, n)
    SELECT changed.thread, pg_backend_pid() % 8, sum(changed.delta) FROM (
        SELECT after.thread, (after.status = 'published')::integer - (before.status = 'published')::integer AS delta
        FROM new_rows after JOIN old_rows before ON before.id = after.id
    ) AS changed
    GROUP BY changed.thread HAVING sum(changed.delta) <> 0
    ON CONFLICT (thread, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE TRIGGER comments_count_inserted AFTER INSERT ON comments
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_inserted();
CREATE TRIGGER comments_count_deleted AFTER DELETE ON comments
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_deleted();
CREATE TRIGGER comments_count_updated AFTER UPDATE ON comments
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_updated();

INSERT INTO thread_counts (thread, slot, n)
SELECT thread, 0, count(*) FROM comments WHERE status = 'published' GROUP BY thread;
