-- Idempotency-Key (idempotency.py): the first answer to each client's key, kept for 24 hours.
-- client is the HMAC pseudonym of the address (auth.py); fingerprint the hash of what was asked.
-- The answer is saved in the same transaction as the change it describes.
CREATE TABLE idempotency_keys (
    client text NOT NULL,
    key text NOT NULL,
    fingerprint bytea NOT NULL,
    status smallint,
    body bytea,
    location text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client, key)
);
-- Pruning takes the oldest first.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
