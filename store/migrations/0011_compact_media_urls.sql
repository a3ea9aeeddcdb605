-- Public reads are built as JSON text by PostgreSQL (db.py: the page and comment statements),
-- byte for byte what the API sent before: compact, keys in this order. json_build_object and
-- json_agg put spaces in their text ("a" : 1, [1, 2]); row_to_json over a row of named columns
-- does not, so the images are built that way.
CREATE OR REPLACE FUNCTION media_urls(images jsonb, base text) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN images = '[]' THEN '[]'::json ELSE (
        SELECT ('[' || string_agg(row_to_json(image_json)::text, ',' ORDER BY n) || ']')::json
        FROM jsonb_array_elements(images) WITH ORDINALITY AS e (image, n),
            LATERAL (SELECT base || (image ->> 'key') AS url, image -> 'content_type' AS content_type,
                image -> 'width' AS width, image -> 'height' AS height, image -> 'bytes' AS bytes) AS image_json) END
$$;
