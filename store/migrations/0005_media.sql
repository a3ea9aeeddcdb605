-- Images on comments, stored in the object store (media.py).
--
-- comments.images: what readers see, in order: [{"key", "content_type", "width", "height",
-- "bytes"}], denormalised so that listings read it with the row (no join). The default is a
-- constant, so adding the column rewrites nothing and old comments read as having none.
ALTER TABLE comments ADD COLUMN images jsonb NOT NULL DEFAULT '[]';

-- One row per object in the bucket. A poster claims the row (insert, or touch claimed_at)
-- before it uploads the object; a deleter locks the row, checks under the lock that nothing
-- refers to it, deletes the object, then the row. A comment refers to the row through
-- comment_media's foreign key, so a comment whose object was deleted meanwhile cannot commit.
CREATE TABLE media (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key text NOT NULL UNIQUE,
    claimed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE comment_media (
    comment_id bigint NOT NULL REFERENCES comments (id) ON DELETE CASCADE,
    media_id bigint NOT NULL REFERENCES media (id),
    PRIMARY KEY (comment_id, media_id)
);
-- "Does any comment still use this object?"
CREATE INDEX comment_media_media_id ON comment_media (media_id);

-- The images as the API shows them: each object's public URL instead of its key. The URL
-- prefix is a per-connection setting (comments.media_base, set by db.py from the config), so
-- a new MEDIA_PUBLIC_URL applies to old comments too. Comments without images pay one
-- comparison.
-- (json, not jsonb: its keys keep the order written here.)
CREATE FUNCTION media_urls(images jsonb) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN images = '[]' THEN '[]'::json ELSE (
        SELECT json_agg(json_build_object(
            'url', coalesce(current_setting('comments.media_base', true), '/media/') || (image ->> 'key'),
            'content_type', image -> 'content_type', 'width', image -> 'width',
            'height', image -> 'height', 'bytes', image -> 'bytes') ORDER BY n)
        FROM jsonb_array_elements(images) WITH ORDINALITY AS e (image, n)) END
$$;
