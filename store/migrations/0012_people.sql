-- Everything one e-mail address wrote (api/people.py: data-access and erasure requests), found
-- without a scan. Addresses are matched without regard to case.
CREATE INDEX comments_email_idx ON comments (lower(email)) WHERE email IS NOT NULL;
