-- Which rule held a comment (core/spam.py), for moderators to see: the moderation mode, too many
-- links, or the honeypot; an edit that sent a comment back to the queue records its own. NULL:
-- nothing held it. The reason stays after a moderator's decision: it is history.
ALTER TABLE comments ADD COLUMN held_by text
    CONSTRAINT comments_held_by_known CHECK (held_by IN ('moderation', 'links', 'honeypot'));
