// Package session runs one WhatsApp session per tenant that this worker
// owns.
//
// A Manager holds the worker's leases (package lease) and, for each tenant it
// owns, runs a tenant session: a small state machine that connects the
// tenant's device through a wa.Driver (whatsmeow or the simulator),
// reconnects with exponential backoff and jitter, handles logouts, stream
// replacement and temporary bans, pairs new devices, and answers control
// requests from admin. Every state change is written to wabus_tenant,
// fenced by the lease epoch, together with a session event in the outbox.
// Inbound messages and receipts are written to the outbox before the driver
// acknowledges them to WhatsApp; one that cannot be written after a few
// attempts makes the session drop its connection, so that WhatsApp delivers
// it again on the next login. Attachments go to the wa-inbound-media bucket
// through a temporary file, up to Config.InboundMediaMax.
//
// This package (with its subpackages) is the only importer of whatsmeow.
package session
