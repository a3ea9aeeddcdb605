-- Sessions of the admin web app (api/admin_app.py): the cookie holds a random token, signed with
-- SECRET_KEY; this table holds only its SHA-256, so signing out ends the session on the server
-- and a copy of the table opens nothing. Removing a moderator's account ends its sessions too
-- (they are checked against moderators on every request).
CREATE TABLE admin_sessions (
    token_hash bytea PRIMARY KEY,
    moderator  text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX admin_sessions_expires_at_idx ON admin_sessions (expires_at);
