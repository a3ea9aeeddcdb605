-- The comment's words as readers see them: its Markdown rendered to an allow-listed HTML fragment
-- (core/formatting.py), once per write (post, edit, import), so that reads pay nothing for it.
-- NULL for tombstones. Comments written before this migration are rendered by the migration
-- runner right after it (store/migrate.py), a batch at a time, found by the small index below.
ALTER TABLE comments ADD COLUMN html text;
CREATE INDEX comments_unrendered_idx ON comments (id) WHERE html IS NULL AND comment IS NOT NULL;
