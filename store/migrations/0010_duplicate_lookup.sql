-- The duplicate rule (the same text from the same client in the same thread within 10 minutes,
-- db.py) looked through every comment the client posted in those 10 minutes and compared texts:
-- one address behind a misconfigured proxy, or a benchmark, made each post slower than the last.
-- An index on the text's hash finds the few rows with the same words at once, whatever the
-- client has posted. (The text itself cannot be indexed: a 10,000-character comment is larger
-- than a btree entry may be.)
CREATE INDEX comments_duplicate_idx ON comments (client, thread, md5(comment)) WHERE client IS NOT NULL;
-- Its only reader was the duplicate rule.
DROP INDEX comments_client_created_idx;
