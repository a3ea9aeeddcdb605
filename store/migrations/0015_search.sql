-- Moderators' text search over names and words (api/admin_app.py: /admin/list?q=...). Words are
-- matched as they are written ('simple': no stemming, so every language is searched alike). A
-- common word is found by walking the listing's own order index and stopping at a page; a rare
-- one through this index.
CREATE INDEX comments_search_idx ON comments
    USING gin (to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(comment, '')));
