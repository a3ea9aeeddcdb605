-- Listings walk comments in an order that stays safe while inserts commit out of id order.
--
-- An id is taken from the sequence before its transaction commits, so comment 11 can become
-- visible before comment 10; a reader that already went past 11 would never see 10. Ordering by
-- (txid, id), where txid is the inserting transaction's id, and listing only transactions that
-- every current snapshot agrees have finished (txid below the snapshot's xmin), means nothing
-- can ever appear behind a position a reader has passed: every transaction still in flight, and
-- every later one, has a larger txid. See CommentDatabase.page().
--
-- Existing rows all take this migration's transaction id: among them, id order is kept.
ALTER TABLE comments ADD COLUMN txid bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint;

CREATE INDEX comments_thread_txid_id_idx ON comments (thread, txid, id);
CREATE INDEX comments_txid_id_idx ON comments (txid, id);
