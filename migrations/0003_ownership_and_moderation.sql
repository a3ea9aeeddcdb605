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
CREATE TABLE post_limits (
    client text PRIMARY KEY,
    tat    timestamptz NOT NULL
);

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

-- Published comments per thread, kept in the same transaction as every change by the trigger
-- below, so GET /counts costs the same for a thread of ten comments or of a million. Each
-- thread's count is spread over 8 slots (chosen by backend) so that concurrent posts to one busy
-- thread do not queue on a single row lock; a count is the sum of at most 8 rows.
CREATE TABLE thread_counts (
    thread text NOT NULL,
    slot   smallint NOT NULL,
    n      bigint NOT NULL,
    PRIMARY KEY (thread, slot)
);

CREATE FUNCTION count_published() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was boolean := TG_OP <> 'INSERT' AND OLD.status = 'published';
    now_published boolean := TG_OP <> 'DELETE' AND NEW.status = 'published';
    delta integer := now_published::integer - was::integer;
BEGIN
    IF delta <> 0 THEN
        INSERT INTO thread_counts AS c (thread, slot, n)
        VALUES (COALESCE(NEW.thread, OLD.thread), pg_backend_pid() % 8, delta)
        ON CONFLICT (thread, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER comments_count_published
    AFTER INSERT OR DELETE OR UPDATE OF status ON comments
    FOR EACH ROW EXECUTE FUNCTION count_published();

INSERT INTO thread_counts (thread, slot, n)
SELECT thread, 0, count(*) FROM comments WHERE status = 'published' GROUP BY thread;
