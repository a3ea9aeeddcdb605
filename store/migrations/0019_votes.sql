-- Votes (api/votes.py): one per comment and client (the pseudonym of web/auth.py), +1 or -1.
-- A comment's upvotes, downvotes and score (the Wilson lower bound of its share of upvotes) are
-- kept in the same transaction as each vote, so that nothing is counted at read time; the row
-- lock on the comment puts one comment's votes in a line, so every vote counts exactly once.
ALTER TABLE comments
    ADD COLUMN upvotes   integer NOT NULL DEFAULT 0,
    ADD COLUMN downvotes integer NOT NULL DEFAULT 0,
    ADD COLUMN score     double precision NOT NULL DEFAULT 0;

CREATE TABLE votes (
    comment_id bigint NOT NULL REFERENCES comments (id) ON DELETE CASCADE,
    client     text NOT NULL,
    value      smallint NOT NULL CHECK (value IN (-1, 1)),
    voted_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (comment_id, client)
);
-- Erasing everything from one client (api/people.py) finds its votes.
CREATE INDEX votes_client_idx ON votes (client);

-- order=top: a thread's top-level comments, best first, ties oldest first, keyset-paged on
-- (-score, id) so that a page costs the same at any depth.
CREATE INDEX comments_top_idx ON comments (thread, (-score), id) WHERE parent_id IS NULL;
