-- Where features meet (idempotency.py, ownership.py, worker.py).

-- A saved answer keeps its edit token only sealed (encrypted with a key derived from
-- SECRET_KEY), and names the comment it shows, so that erasing the comment rewrites the answer.
ALTER TABLE idempotency_keys ADD COLUMN sealed_token bytea, ADD COLUMN comment_id bigint;
CREATE INDEX idempotency_keys_comment_id ON idempotency_keys (comment_id) WHERE comment_id IS NOT NULL;

-- Authors' edits are counted: a comment takes a bounded number of them (comment.MAX_EDITS).
ALTER TABLE comments ADD COLUMN edits integer NOT NULL DEFAULT 0;

-- Which worker holds a delivery's lease: a worker that shuts down releases only its own
-- leases, never one that expired and was taken over by another worker.
ALTER TABLE deliveries ADD COLUMN leased_by uuid;

-- Events of one comment reach a destination in the order they were written (outbox id), even
-- when two workers fan out two batches at once: the order is by event, not by delivery row.
DROP INDEX deliveries_order_idx;
CREATE INDEX deliveries_order_idx ON deliveries (comment_id, destination, event) WHERE state = 'pending';
-- "Is an earlier event of this comment still waiting to be fanned out?"
CREATE INDEX outbox_unfanned_comment_idx ON outbox (comment_id, id) WHERE NOT fanned_out;
