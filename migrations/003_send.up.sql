-- What the send pipeline needs to re-emit an outcome exactly as it was
-- first reported, and outbox rows that carry NATS headers (dead letters).
ALTER TABLE wabus_send
    ADD COLUMN recipient text NOT NULL DEFAULT '',
    ADD COLUMN code      text NOT NULL DEFAULT '',
    ADD COLUMN sent_at   timestamptz;

ALTER TABLE wabus_outbox ADD COLUMN headers bytea;
