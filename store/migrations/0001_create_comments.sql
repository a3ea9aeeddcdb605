-- Comments, replies within a thread, and the indexes behind every listing query.
CREATE TABLE comments (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    thread     text NOT NULL CHECK (char_length(thread) BETWEEN 1 AND 200),
    parent_id  bigint,
    name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    comment    text NOT NULL CHECK (char_length(comment) BETWEEN 1 AND 10000),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- (thread, id) serves the per-thread listing in both directions and lets a reply's
    -- foreign key demand that its parent sits in the same thread.
    CONSTRAINT comments_thread_id_key UNIQUE (thread, id),
    CONSTRAINT comments_parent_same_thread
        FOREIGN KEY (thread, parent_id) REFERENCES comments (thread, id)
);

-- Finding a comment's replies (and checking deletes later) without a scan.
CREATE INDEX comments_parent_id_idx ON comments (parent_id) WHERE parent_id IS NOT NULL;
