-- Moderator accounts (api/moderators.py): one secret each, kept only as its SHA-256 (secrets are
-- 256 random bits, so a fast hash is enough and a lookup by it is one index probe). ADMIN_TOKEN
-- stays an account of its own, named admin, held in the environment rather than here.
CREATE TABLE moderators (
    name        text PRIMARY KEY CONSTRAINT moderators_name_format CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,39}$'),
    secret_hash bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Which moderator acted. (token_fingerprint stays for the rows written before accounts existed.)
ALTER TABLE moderation_log ADD COLUMN moderator text;
