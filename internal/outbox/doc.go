// Package outbox makes events durable before they are published.
//
// A component that changes state writes the event that reports the change
// with Enqueue, inside the same Postgres transaction. A Relay (one per
// process; several may run side by side) publishes pending rows to
// JetStream with Nats-Msg-Id set to the event id, waits for each PubAck and
// only then deletes the rows. Rows are claimed with FOR UPDATE SKIP LOCKED,
// so two relays never publish the same row at the same time; a relay that
// dies after the PubAck but before the delete leaves its rows to the next
// relay, whose publish the stream's duplicate window drops. A writer calls
// Relay.Notify after its commit: the relay of its own process wakes at once,
// and the others through LISTEN/NOTIFY (one NOTIFY per burst, outside the
// writers' transactions, since a NOTIFY inside one serializes commits). A
// periodic sweep is the fallback for rows a crashed process left behind.
//
// This package is the only publisher to the events stream.
package outbox
