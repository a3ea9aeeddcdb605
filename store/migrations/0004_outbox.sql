-- The transactional outbox (outbox.py, worker.py): every change others may want to know about
-- writes an event in the same transaction as the change; worker processes deliver them.

-- Reply e-mails: where to tell a comment's author about replies. Never shown by public reads.
ALTER TABLE comments
    ADD COLUMN email text CHECK (char_length(email) <= 254),
    ADD COLUMN notify_replies boolean NOT NULL DEFAULT false;

-- One row per event; `comment` is the comment's public fields at the time of the event.
CREATE TABLE outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id   uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    type       text NOT NULL,
    comment_id bigint NOT NULL,
    comment    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Set once a worker has created the event's deliveries (one per destination).
    fanned_out boolean NOT NULL DEFAULT false
);
CREATE INDEX outbox_to_fan_out_idx ON outbox (id) WHERE NOT fanned_out;

-- One row per event and destination (a webhook URL, or "email"): its own attempts and state, so
-- a receiver that is down delays only what is addressed to it.
CREATE TABLE deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event           bigint NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    comment_id      bigint NOT NULL,
    destination     text NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- A worker's lease: while it lies in the future, the delivery is being attempted. A worker
    -- that dies (SIGKILL) leaves it to expire, and another worker takes the delivery over.
    leased_until    timestamptz,
    last_error      text,
    finished_at     timestamptz
);
-- Claiming walks pending deliveries in id order without wading through finished ones; the
-- worker's wait asks for the earliest next attempt.
CREATE INDEX deliveries_pending_idx ON deliveries (id) WHERE state = 'pending';
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at) WHERE state = 'pending';
-- Per comment and destination, events are delivered in order of creation.
CREATE INDEX deliveries_order_idx ON deliveries (comment_id, destination, id) WHERE state = 'pending';
CREATE INDEX deliveries_finished_idx ON deliveries (finished_at) WHERE state <> 'pending';
