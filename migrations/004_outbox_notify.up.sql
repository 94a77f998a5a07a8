-- NOTIFY inside a transaction serializes every notifying commit (Postgres
-- takes a database-wide lock for it until the commit is flushed), which
-- capped event throughput at one commit per WAL flush. Relays are now woken
-- in-process right after a commit, and other processes by a coalesced
-- NOTIFY sent outside the writers' transactions.
DROP TRIGGER wabus_outbox_notify ON wabus_outbox;
DROP FUNCTION wabus_outbox_notify();
