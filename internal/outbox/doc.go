// Package outbox makes events durable before they are published.
//
// A component that changes state writes the event that reports the change
// with Enqueue, inside the same Postgres transaction. A Relay (one per
// process; several may run side by side) publishes pending rows to
// JetStream with Nats-Msg-Id set to the event id, waits for each PubAck and
// only then deletes the rows. Rows are claimed with FOR UPDATE SKIP LOCKED,
// so two relays never publish the same row at the same time; a relay that
// dies after the PubAck but before the delete leaves its rows to the next
// relay, whose publish the stream's duplicate window drops. Relays wake on
// LISTEN/NOTIFY (a trigger on the table) and sweep periodically as fallback.
//
// This package is the only publisher to the events stream.
package outbox
