-- Comments brought from another service (transfer/importer.py) keep their place in time.
--
-- Listings were ordered by (txid, id): the inserting transaction, then the id. An import
-- inserts years of comments today, so that key would list them after everything already here.
-- The key becomes (txid, created_at, id). A post is alone in its transaction, so for posts
-- nothing changes, and exactly-once paging under concurrent posts holds as before (0002). An
-- imported comment takes the txid of the first comment written after it (or, if there is none,
-- of the import's first transaction), and created_at orders it within that group: it lands
-- just before that comment, in its original order among the others. Those positions are in the
-- past: a reader paging through a thread while an import runs may not see the imported comments
-- until the next load, as with any history inserted behind the page one has read.
CREATE INDEX comments_thread_order_idx ON comments (thread, txid, created_at, id);
CREATE INDEX comments_order_idx ON comments (txid, created_at, id);
CREATE INDEX comments_status_order_idx ON comments (status, txid, created_at, id);
DROP INDEX comments_thread_txid_id_idx, comments_txid_id_idx, comments_status_txid_id_idx;
-- "The first comment written after this time", for each imported comment; also the range
-- scans by time (export --since).
CREATE INDEX comments_created_at_idx ON comments (created_at);

-- What each import brought in: the source system and the comment's id there. Running the same
-- import again skips what is recorded here, also once the comment was erased (its comment_id
-- becomes NULL), so an import never brings back what a moderator or an author removed.
CREATE TABLE imported_comments (
    source      text NOT NULL,
    source_id   text NOT NULL,
    comment_id  bigint REFERENCES comments (id) ON DELETE SET NULL,
    imported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, source_id)
);
CREATE INDEX imported_comments_comment_id_idx ON imported_comments (comment_id) WHERE comment_id IS NOT NULL;
