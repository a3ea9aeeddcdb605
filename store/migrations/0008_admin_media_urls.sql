-- Images of comments the public cannot see (pending, rejected) are not served by /media/{key}
-- (media.py); moderators reach them through /admin/media/{key}. So the URL prefix becomes an
-- argument, and the one-argument form keeps its meaning for every public read.
CREATE FUNCTION media_urls(images jsonb, base text) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN images = '[]' THEN '[]'::json ELSE (
        SELECT json_agg(json_build_object(
            'url', base || (image ->> 'key'),
            'content_type', image -> 'content_type', 'width', image -> 'width',
            'height', image -> 'height', 'bytes', image -> 'bytes') ORDER BY n)
        FROM jsonb_array_elements(images) WITH ORDINALITY AS e (image, n)) END
$$;

CREATE OR REPLACE FUNCTION media_urls(images jsonb) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT media_urls(images, coalesce(current_setting('comments.media_base', true), '/media/'))
$$;
